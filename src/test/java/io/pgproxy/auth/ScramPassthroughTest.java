package io.pgproxy.auth;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.*;

/**
 * SCRAM passthrough without a network: a client proves its password to the proxy's server session,
 * whose ClientKey then logs in to a second server session (the backend) holding the same verifier.
 */
class ScramPassthroughTest {
    private static final ScramVerifier VERIFIER = ScramVerifier.fromPassword("pencil", 4096);

    /** A client with the password logs in to the proxy; returns the keys its proof revealed. */
    private static ScramKeys keysFromLogin() throws AuthException {
        ScramServerSession proxy = new ScramServerSession(VERIFIER);
        ScramClientSession client = new ScramClientSession("pencil", 10_000);
        byte[] serverFirst = proxy.clientFirst(client.clientFirstMessage());
        byte[] serverFinal = proxy.clientFinal(client.serverFirst(serverFirst));
        client.serverFinal(serverFinal);
        return proxy.keys();
    }

    @Test
    void theKeysFromAClientsProofLogInWhereTheSameVerifierIsHeld() throws AuthException {
        ScramKeys keys = keysFromLogin();
        ScramServerSession backend = new ScramServerSession(VERIFIER);
        ScramClientSession passthrough = ScramClientSession.forBackend(null, keys, 10_000, 1024, false, null);
        byte[] serverFirst = backend.clientFirst(passthrough.clientFirstMessage());
        byte[] serverFinal = backend.clientFinal(passthrough.serverFirst(serverFirst));
        passthrough.serverFinal(serverFinal);
        assertTrue(passthrough.completed());
        assertEquals("ScramKeys[<redacted>]", keys.toString());
    }

    @Test
    void anotherSaltIsAClearRefusalBeforeAnyProofIsSent() throws AuthException {
        ScramKeys keys = keysFromLogin();
        ScramServerSession backend = new ScramServerSession(ScramVerifier.fromPassword("pencil", 4096));
        ScramClientSession passthrough = ScramClientSession.forBackend(null, keys, 10_000, 1024, false, null);
        byte[] serverFirst = backend.clientFirst(passthrough.clientFirstMessage());
        AuthException e = assertThrows(AuthException.class, () -> passthrough.serverFirst(serverFirst));
        assertEquals("28000", e.sqlState());
        assertTrue(e.getMessage().contains("SCRAM passthrough impossible"), e.getMessage());
    }

    @Test
    void keysMustHashToTheVerifiersStoredKey() {
        assertThrows(IllegalArgumentException.class, () -> new ScramKeys(new byte[32], VERIFIER));
    }

    @Test
    void keysAreOnlyGivenAfterAVerifiedProof() {
        assertThrows(IllegalStateException.class, () -> new ScramServerSession(VERIFIER).keys());
    }

    @Test
    void storeAnswersOnlyForTheVerifierTheKeysCameFrom() throws AuthException {
        ScramKeyStore store = new ScramKeyStore();
        store.remember("alice", keysFromLogin());
        assertNotNull(store.find("alice", VERIFIER));
        assertNull(store.find("alice", ScramVerifier.fromPassword("pencil", 4096)));
        assertNull(store.find("bob", VERIFIER));

        store.retain(user -> java.util.Optional.of(VERIFIER));
        assertNotNull(store.find("alice", VERIFIER), "unchanged verifier: kept");
        store.retain(user -> null);
        assertNotNull(store.latest("alice"), "not configured (found by the auth query): kept");
        store.retain(user -> java.util.Optional.of(ScramVerifier.fromPassword("pencil", 4096)));
        assertNull(store.find("alice", VERIFIER), "changed verifier: forgotten");
        assertNull(store.latest("alice"));
    }

    @Test
    void channelBindingSendsTheGs2HeaderAndTheEndPointData() throws AuthException {
        byte[] endPoint = {1, 2, 3};
        ScramClientSession plus = ScramClientSession.forBackend("pencil", null, 10_000, 1024, true, endPoint);
        assertEquals("SCRAM-SHA-256-PLUS", plus.mechanism());
        String first = new String(plus.clientFirstMessage(), StandardCharsets.UTF_8);
        assertTrue(first.startsWith("p=tls-server-end-point,,"), first);
        String nonce = first.substring(first.indexOf("r=") + 2);
        String salt = Base64.getEncoder().encodeToString(new byte[16]);
        String clientFinal = new String(plus.serverFirst(("r=" + nonce + "srv,s=" + salt + ",i=4096")
                .getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
        byte[] binding = Base64.getDecoder().decode(clientFinal.substring(2, clientFinal.indexOf(',')));
        assertEquals("p=tls-server-end-point,,\u0001\u0002\u0003", new String(binding, StandardCharsets.ISO_8859_1));

        ScramClientSession overTlsWithoutPlus = ScramClientSession.forBackend("pencil", null, 10_000, 1024, true, null);
        assertEquals("SCRAM-SHA-256", overTlsWithoutPlus.mechanism());
        assertTrue(new String(overTlsWithoutPlus.clientFirstMessage(), StandardCharsets.UTF_8).startsWith("y,,"));
    }
}
