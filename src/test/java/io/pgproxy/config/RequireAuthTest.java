package io.pgproxy.config;

import org.junit.jupiter.api.Test;

import java.util.EnumSet;

import static io.pgproxy.config.RequireAuth.Method.*;
import static org.junit.jupiter.api.Assertions.*;

class RequireAuthTest {

    private static RequireAuth parse(String text) {
        StringBuilder problem = new StringBuilder();
        RequireAuth r = RequireAuth.parse(text, problem);
        assertNotNull(r, problem.toString());
        return r;
    }

    private static String problem(String text) {
        StringBuilder problem = new StringBuilder();
        assertNull(RequireAuth.parse(text, problem));
        return problem.toString();
    }

    @Test
    void theDefaultRefusesCleartextAndMd5OnlyWithoutTls() {
        RequireAuth r = parse("");
        assertSame(RequireAuth.BY_TLS, r);
        assertFalse(r.allows(PASSWORD, false));
        assertFalse(r.allows(MD5, false));
        assertTrue(r.allows(SCRAM_SHA_256, false));
        assertTrue(r.allows(NONE, false));
        for (RequireAuth.Method m : RequireAuth.Method.values()) {
            assertTrue(r.allows(m, true), m.toString());
        }
    }

    @Test
    void aListAllowsExactlyItsMethodsWithOrWithoutTls() {
        RequireAuth r = parse("scram-sha-256, md5");
        assertEquals(EnumSet.of(SCRAM_SHA_256, MD5), r.allowed());
        assertTrue(r.allows(MD5, false));
        assertFalse(r.allows(PASSWORD, true));
        assertFalse(r.allows(NONE, true));
    }

    @Test
    void negationAllowsAllButTheNamedOnes() {
        assertEquals(EnumSet.of(MD5, SCRAM_SHA_256, NONE), parse("!password").allowed());
        assertEquals(EnumSet.of(SCRAM_SHA_256), parse("!password,!md5,!none").allowed());
    }

    @Test
    void mistakesAreExplained() {
        assertTrue(problem("password,!md5").contains("cannot be mixed"));
        assertTrue(problem("gss").contains("unknown method \"gss\""));
        assertTrue(problem("md5,md5").contains("more than once"));
    }
}
