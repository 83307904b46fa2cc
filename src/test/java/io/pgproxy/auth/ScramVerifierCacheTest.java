package io.pgproxy.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.pgproxy.config.ConfigLoader;
import io.pgproxy.config.ProxyConfig;
import org.junit.jupiter.api.Test;

class ScramVerifierCacheTest {
    private static final ScramVerifier ALICE = ScramVerifier.fromPassword("alice's", 4096, new byte[] {1, 2, 3, 4});
    private static final ScramVerifier ALICE_NEW = ScramVerifier.fromPassword("alice's new", 4096, new byte[] {5, 6, 7, 8});
    private static final ScramVerifier BOB = ScramVerifier.fromPassword("bob's", 4096, new byte[] {9, 10, 11, 12});

    private final ScramVerifierCache cache = new ScramVerifierCache();

    @Test
    void aVerifierIsParsedOncePerSnapshot() throws Exception {
        ProxyConfig config = config(ALICE, BOB);
        ScramVerifier first = cache.verifier(config, config.users().get("alice"));
        assertEquals(ALICE, first);
        assertSame(first, cache.verifier(config, config.users().get("alice")), "the second login parses nothing");
        assertEquals(BOB, cache.verifier(config, config.users().get("bob")));
    }

    @Test
    void aReloadThatChangesThePasswordServesTheNewVerifier() throws Exception {
        ProxyConfig before = config(ALICE, BOB);
        cache.verifier(before, before.users().get("alice"));
        ProxyConfig after = config(ALICE_NEW, BOB);
        assertEquals(ALICE_NEW, cache.verifier(after, after.users().get("alice")));
    }

    @Test
    void aReloadThatChangesNothingParsesAgainForTheNewSnapshot() throws Exception {
        ProxyConfig before = config(ALICE, BOB);
        ScramVerifier old = cache.verifier(before, before.users().get("alice"));
        ProxyConfig after = config(ALICE, BOB);
        ScramVerifier reloaded = cache.verifier(after, after.users().get("alice"));
        assertEquals(old, reloaded);
        assertNotSame(old, reloaded, "entries belong to the snapshot they were parsed from");
    }

    @Test
    void aLoginStillOnTheOldSnapshotGetsTheOldSnapshotsVerifier() throws Exception {
        ProxyConfig before = config(ALICE, BOB);
        ProxyConfig after = config(ALICE_NEW, BOB);
        assertEquals(ALICE_NEW, cache.verifier(after, after.users().get("alice")));
        assertEquals(ALICE, cache.verifier(before, before.users().get("alice")));
        assertEquals(ALICE_NEW, cache.verifier(after, after.users().get("alice")));
    }

    private static ProxyConfig config(ScramVerifier alice, ScramVerifier bob) throws Exception {
        return ConfigLoader.parse("pgproxy.users { alice { password = \"" + alice.encode() + "\" }, bob { password = \""
                + bob.encode() + "\" } }");
    }
}
