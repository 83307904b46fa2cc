package io.pgproxy.session;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Proxy-wide statement names, a client's names, a backend's LRU. */
class StatementCacheTest {
    private static byte[] rest(String sql) {
        byte[] q = sql.getBytes(StandardCharsets.UTF_8);
        byte[] r = new byte[q.length + 3];
        System.arraycopy(q, 0, r, 0, q.length);
        return r;
    }

    @Test
    void sameTextAndTypesShareOneNameAcrossClients() {
        StatementRegistry registry = new StatementRegistry();
        ClientStatements a = new ClientStatements(registry);
        ClientStatements b = new ClientStatements(registry);
        PreparedStatement s1 = a.define("s1", rest("select 1"));
        PreparedStatement s2 = b.define("other", rest("select 1"));
        PreparedStatement s3 = b.define("s3", rest("select 2"));
        assertSame(s1, s2);
        assertNotEquals(s1.name(), s3.name());
        assertTrue(s1.name().startsWith(PreparedStatement.NAME_PREFIX));
        assertEquals(2, registry.size());
    }

    @Test
    void theParseMessageCarriesTheProxyName() {
        PreparedStatement s = new StatementRegistry().acquire(rest("select $1"));
        byte[] m = s.parseMessage();
        assertEquals('P', m[0]);
        assertEquals(m.length - 1, java.nio.ByteBuffer.wrap(m, 1, 4).getInt());
        String name = new String(m, 5, s.name().length(), StandardCharsets.UTF_8);
        assertEquals(s.name(), name);
        assertArrayEquals(s.cname(), java.util.Arrays.copyOfRange(m, 5, 5 + s.name().length() + 1));
    }

    @Test
    void aNameIsForgottenWhenNoClientHoldsIt() {
        StatementRegistry registry = new StatementRegistry();
        ClientStatements a = new ClientStatements(registry);
        ClientStatements b = new ClientStatements(registry);
        a.define("x", rest("select 1"));
        b.define("y", rest("select 1"));
        a.close("x");
        assertEquals(1, registry.size());
        b.clear();
        assertEquals(0, registry.size());
        assertNull(b.get("y"));
    }

    @Test
    void undefineLeavesANameThatWasReusedSince() {
        StatementRegistry registry = new StatementRegistry();
        ClientStatements a = new ClientStatements(registry);
        PreparedStatement first = a.define("x", rest("select 1"));
        a.close("x");
        PreparedStatement second = a.define("x", rest("select 2"));
        a.undefine("x", first);
        assertSame(second, a.get("x"));
        a.undefine("x", second);
        assertNull(a.get("x"));
        assertEquals(0, registry.size());
    }

    @Test
    void backendStatementsEvictTheLeastRecentlyUsed() {
        BackendStatements b = new BackendStatements();
        assertNull(b.add("a", 2));
        assertNull(b.add("b", 2));
        assertTrue(b.use("a"));
        assertEquals("b", b.add("c", 2));
        assertFalse(b.use("b"));
        b.restore("b");
        assertEquals(3, b.size());
        b.clear();
        assertFalse(b.use("a"));
    }
}
