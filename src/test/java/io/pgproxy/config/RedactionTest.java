package io.pgproxy.config;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RedactionTest {
    @Test
    void secretsAreAbsentFromToString() throws Exception {
        ProxyConfig c = ConfigLoader.parse("""
                pgproxy.users.alice.password = "%s"
                pgproxy.users.bob.password = "%s"
                pgproxy.databases.app { host = h, user = owner, password = "backend-cleartext-pw" }
                pgproxy.auth-query { auth-user = lookup, auth-password = "auth-cleartext-pw" }
                """.formatted(TestSecrets.VERIFIER, TestSecrets.MD5_HASH));
        String verifierKey = TestSecrets.VERIFIER.substring(TestSecrets.VERIFIER.lastIndexOf(':') + 1);
        for (String text : new String[] {c.toString(), c.users().get("alice").toString(),
                c.users().get("bob").toString(), c.databases().get("app").toString()}) {
            assertFalse(text.contains("SCRAM-SHA-256$"), text);
            assertFalse(text.contains(verifierKey), text);
            assertFalse(text.contains(TestSecrets.MD5_HASH), text);
            assertFalse(text.contains("backend-cleartext-pw"), text);
            assertFalse(text.contains("auth-cleartext-pw"), text);
        }
        // Still useful for debugging: the non-secret fields are there.
        assertTrue(c.databases().get("app").toString().contains("user=owner"));
        assertTrue(c.users().get("alice").toString().contains("SCRAM_SHA_256"));
        assertTrue(c.auth().authQuery().toString().contains("authUser=lookup"));
    }
}
