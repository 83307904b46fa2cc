package io.pgproxy.auth;

import static io.pgproxy.auth.Rfc7677.bytes;
import static io.pgproxy.auth.Rfc7677.text;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ScramClientSessionTest {

    private static ScramClientSession rfcClient() {
        return new ScramClientSession(Rfc7677.PASSWORD, 10_000, Rfc7677.USER, Rfc7677.CLIENT_NONCE);
    }

    private static ScramClientSession afterServerFirst() throws AuthException {
        ScramClientSession client = rfcClient();
        client.clientFirstMessage();
        client.serverFirst(bytes(Rfc7677.SERVER_FIRST));
        return client;
    }

    @Test
    void reproducesRfc7677Exchange() throws AuthException {
        ScramClientSession client = rfcClient();
        assertEquals(Rfc7677.CLIENT_FIRST, text(client.clientFirstMessage()));
        assertEquals(Rfc7677.CLIENT_FINAL, text(client.serverFirst(bytes(Rfc7677.SERVER_FIRST))));
        assertDoesNotThrow(() -> client.serverFinal(bytes(Rfc7677.SERVER_FINAL)));
    }

    @Test
    void defaultFirstMessageHasEmptyUserAndRandomNonce() {
        String first = text(new ScramClientSession("pw", 4096).clientFirstMessage());
        assertTrue(first.matches("n,,n=,r=[A-Za-z0-9+/]{32}"), first);
        assertTrue(!first.equals(text(new ScramClientSession("pw", 4096).clientFirstMessage())));
    }

    @Test
    void wrongServerSignatureIs28P01() throws AuthException {
        ScramClientSession client = afterServerFirst();
        AuthException e = assertThrows(AuthException.class,
                () -> client.serverFinal(bytes("v=" + ScramCrypto.base64(new byte[32]))));
        assertEquals("28P01", e.sqlState());
    }

    @Test
    void serverErrorIs28P01() throws AuthException {
        ScramClientSession client = afterServerFirst();
        AuthException e = assertThrows(AuthException.class, () -> client.serverFinal(bytes("e=invalid-proof")));
        assertEquals("28P01", e.sqlState());
        assertTrue(e.getMessage().contains("invalid-proof"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "v=", "v=abc", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1", "x=1"})
    void malformedServerFinalIs08P01(String message) throws AuthException {
        ScramClientSession client = afterServerFirst();
        assertEquals("08P01", assertThrows(AuthException.class, () -> client.serverFinal(bytes(message))).sqlState());
    }

    @Test
    void iterationCountAboveCapIsRejected() {
        ScramClientSession client = new ScramClientSession(Rfc7677.PASSWORD, 4095, Rfc7677.USER, Rfc7677.CLIENT_NONCE);
        client.clientFirstMessage();
        AuthException e = assertThrows(AuthException.class, () -> client.serverFirst(bytes(Rfc7677.SERVER_FIRST)));
        assertEquals("08P01", e.sqlState());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+10",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967297",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=!!notbase64,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",
        "m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=ext",
        "e=other-error",
    })
    void malformedServerFirstIs08P01(String message) {
        ScramClientSession client = rfcClient();
        client.clientFirstMessage();
        assertEquals("08P01", assertThrows(AuthException.class, () -> client.serverFirst(bytes(message))).sqlState());
    }

    @Test
    void serverNonceAndSaltAreBounded() {
        String longNonce = "r=" + Rfc7677.CLIENT_NONCE + "x".repeat(1025) + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1";
        ScramClientSession a = rfcClient();
        a.clientFirstMessage();
        assertEquals("08P01", assertThrows(AuthException.class, () -> a.serverFirst(bytes(longNonce))).sqlState());

        String bigSalt = "r=" + Rfc7677.CLIENT_NONCE + "x,s=" + ScramCrypto.base64(new byte[1025]) + ",i=1";
        ScramClientSession b = rfcClient();
        b.clientFirstMessage();
        assertEquals("08P01", assertThrows(AuthException.class, () -> b.serverFirst(bytes(bigSalt))).sqlState());

        String okNonce = "r=" + Rfc7677.CLIENT_NONCE + "x".repeat(1024) + ",s=" + ScramCrypto.base64(new byte[1024]) + ",i=1";
        ScramClientSession c = rfcClient();
        c.clientFirstMessage();
        assertDoesNotThrow(() -> c.serverFirst(bytes(okNonce)));
    }

    @Test
    void outOfOrderCallsAre08P01() throws AuthException {
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> rfcClient().serverFirst(bytes(Rfc7677.SERVER_FIRST))).sqlState());

        ScramClientSession early = rfcClient();
        early.clientFirstMessage();
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> early.serverFinal(bytes(Rfc7677.SERVER_FINAL))).sqlState());

        ScramClientSession twice = afterServerFirst();
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> twice.serverFirst(bytes(Rfc7677.SERVER_FIRST))).sqlState());
    }
}
