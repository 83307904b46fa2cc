package io.pgproxy.auth;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** pg_hba's password method: a cleartext password checked against what the proxy stores instead of it. */
class CleartextPasswordTest {
    @Test
    void againstAScramVerifier() {
        String verifier = ScramVerifier.fromPassword("pencil", 4096).encode();
        assertTrue(CleartextPassword.matches(verifier, "alice", "pencil"));
        assertFalse(CleartextPassword.matches(verifier, "alice", "Pencil"));
        assertFalse(CleartextPassword.matches(verifier, "alice", ""));
    }

    @Test
    void againstAnMd5HashSaltedWithTheUserName() {
        String hash = Md5Password.hash("alice", "pencil");
        assertTrue(CleartextPassword.matches(hash, "alice", "pencil"));
        assertFalse(CleartextPassword.matches(hash, "bob", "pencil"), "the hash belongs to alice");
        assertFalse(CleartextPassword.matches(hash, "alice", "pencil "));
    }

    @Test
    void noSecretOrAnUnreadableOneMatchesNothing() {
        assertFalse(CleartextPassword.matches(null, "alice", "pencil"));
        assertFalse(CleartextPassword.matches("pencil", "alice", "pencil"), "a cleartext secret is never accepted");
        assertFalse(CleartextPassword.matches("SCRAM-SHA-256$x", "alice", "pencil"));
        assertFalse(CleartextPassword.matches(Md5Password.hash("alice", "pencil"), "alice", null));
    }
}
