package io.pgproxy.auth;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Our client and server sessions talking to each other. */
class ScramExchangeTest {

    @Test
    void matchingPasswordSucceedsOnBothSides() throws AuthException {
        ScramServerSession server = new ScramServerSession(ScramVerifier.fromPassword("s3cret", 4096));
        ScramClientSession client = new ScramClientSession("s3cret", 4096);
        byte[] serverFirst = server.clientFirst(client.clientFirstMessage());
        byte[] serverFinal = server.clientFinal(client.serverFirst(serverFirst));
        assertDoesNotThrow(() -> client.serverFinal(serverFinal));
    }

    @Test
    void nonAsciiPasswordSucceeds() throws AuthException {
        ScramServerSession server = new ScramServerSession(ScramVerifier.fromPassword("pässwörd\u00a0☃", 64));
        ScramClientSession client = new ScramClientSession("pässwörd\u00a0☃", 64);
        byte[] serverFinal = server.clientFinal(client.serverFirst(server.clientFirst(client.clientFirstMessage())));
        assertDoesNotThrow(() -> client.serverFinal(serverFinal));
    }

    @Test
    void wrongPasswordFailsWith28P01() throws AuthException {
        ScramServerSession server = new ScramServerSession(ScramVerifier.fromPassword("right", 4096));
        ScramClientSession client = new ScramClientSession("wrong", 4096);
        byte[] clientFinal = client.serverFirst(server.clientFirst(client.clientFirstMessage()));
        AuthException e = assertThrows(AuthException.class, () -> server.clientFinal(clientFinal));
        assertEquals("28P01", e.sqlState());
    }

    @Test
    void unknownUserFailsWith28P01AtTheEnd() throws AuthException {
        ScramServerSession server = new ScramServerSession(null);
        ScramClientSession client = new ScramClientSession("anything", 4096);
        byte[] clientFinal = client.serverFirst(server.clientFirst(client.clientFirstMessage()));
        AuthException e = assertThrows(AuthException.class, () -> server.clientFinal(clientFinal));
        assertEquals("28P01", e.sqlState());
    }

    @Test
    void serverWithAnotherVerifierIsDetectedByTheClient() throws AuthException {
        // A server that accepts any proof but does not know the keys cannot forge v=.
        ScramClientSession client = new ScramClientSession("pw", 4096);
        ScramServerSession impostor = new ScramServerSession(ScramVerifier.fromPassword("other", 4096));
        client.serverFirst(impostor.clientFirst(client.clientFirstMessage()));
        byte[] forged = ("v=" + ScramCrypto.base64(new byte[32])).getBytes();
        assertEquals("28P01", assertThrows(AuthException.class, () -> client.serverFinal(forged)).sqlState());
    }
}
