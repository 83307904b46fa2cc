package io.pgproxy.auth;

import static io.pgproxy.auth.Rfc7677.bytes;
import static io.pgproxy.auth.Rfc7677.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ScramServerSessionTest {

    private static final ScramVerifier VERIFIER = Rfc7677.verifier();

    private static ScramServerSession rfcServer() {
        return new ScramServerSession(VERIFIER, Rfc7677.SERVER_NONCE);
    }

    @Test
    void reproducesRfc7677Exchange() throws AuthException {
        ScramServerSession server = rfcServer();
        assertEquals(Rfc7677.SERVER_FIRST, text(server.clientFirst(bytes(Rfc7677.CLIENT_FIRST))));
        assertEquals(Rfc7677.SERVER_FINAL, text(server.clientFinal(bytes(Rfc7677.CLIENT_FINAL))));
    }

    @Test
    void wrongProofFailsWith28P01() throws AuthException {
        ScramServerSession server = rfcServer();
        server.clientFirst(bytes(Rfc7677.CLIENT_FIRST));
        String badProof = Rfc7677.CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
        AuthException e = assertThrows(AuthException.class, () -> server.clientFinal(bytes(badProof)));
        assertEquals("28P01", e.sqlState());
        assertEquals("password authentication failed", e.getMessage());
    }

    @Test
    void unknownUserFailsOnlyAtTheFinalStep() throws AuthException {
        ScramServerSession server = new ScramServerSession(null);
        String serverFirst = text(server.clientFirst(bytes("n,,n=,r=abc")));
        assertTrue(serverFirst.matches("r=abc[^,]+,s=[A-Za-z0-9+/=]+,i=4096"), serverFirst);
        String nonce = serverFirst.substring(2, serverFirst.indexOf(','));
        String fin = "c=biws,r=" + nonce + ",p=" + ScramCrypto.base64(new byte[32]);
        AuthException e = assertThrows(AuthException.class, () -> server.clientFinal(bytes(fin)));
        assertEquals("28P01", e.sqlState());
    }

    @Test
    void unknownUserSaltIsStableSoItCannotBeSpotted() throws AuthException {
        String a = text(new ScramServerSession(null).clientFirst(bytes("n,,n=,r=abc")));
        String b = text(new ScramServerSession(null).clientFirst(bytes("n,,n=,r=abc")));
        assertEquals(a.substring(a.indexOf(",s=")), b.substring(b.indexOf(",s=")));
    }

    @Test
    void eachUnknownNameHasItsOwnStableSalt() throws AuthException {
        String a1 = salt(ScramServerSession.forUnknownUser("alice"));
        String a2 = salt(ScramServerSession.forUnknownUser("alice"));
        String b = salt(ScramServerSession.forUnknownUser("bob"));
        assertEquals(a1, a2, "stable for one name");
        assertNotEquals(a1, b, "one salt shared by every unknown name would give them away");
    }

    private static String salt(ScramServerSession s) throws AuthException {
        String first = text(s.clientFirst(bytes("n,,n=,r=abc")));
        return first.substring(first.indexOf(",s="));
    }

    @Test
    void acceptsYGs2HeaderWithMatchingBinding() throws AuthException {
        ScramVerifier v = ScramVerifier.fromPassword("secret", 1);
        ScramServerSession server = new ScramServerSession(v, "SRV");
        server.clientFirst(bytes("y,,n=,r=abc"));
        // The proof is wrong, but reaching the proof check shows c=eSws was accepted for y,,.
        AuthException e = assertThrows(AuthException.class,
                () -> server.clientFinal(bytes("c=eSws,r=abcSRV,p=" + ScramCrypto.base64(new byte[32]))));
        assertEquals("28P01", e.sqlState());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "n,,",
        "p=tls-server-end-point,,n=,r=abc",
        "n,a=admin,n=,r=abc",
        "x,,n=,r=abc",
        "n,,m=ext,n=,r=abc",
        "n,,r=abc",
        "n,,n=",
        "n,,n=,r=",
        "n,,n=,r=ab\u00e9",
        "n,,n=,r=abc,x=extension",
        "n,,n=,r=abc,",
        "n,,n=,s=abc",
        "n,,r=abc,n=",
        "n,,n=,r=a\tb",
    })
    void malformedClientFirstIs08P01(String message) {
        AuthException e = assertThrows(AuthException.class, () -> rfcServer().clientFirst(bytes(message)));
        assertEquals("08P01", e.sqlState());
    }

    @Test
    void channelBindingRequestIsRefusedByName() {
        AuthException e = assertThrows(AuthException.class,
                () -> rfcServer().clientFirst(bytes("p=tls-server-end-point,,n=,r=abc")));
        assertEquals("The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes "
                + "channel binding data.", e.getMessage());
        assertEquals("08P01", e.sqlState());
    }

    @Test
    void oversizedMessageIsRejectedBeforeParsing() {
        byte[] huge = bytes("n,,n=,r=" + "a".repeat(5000));
        AuthException e = assertThrows(AuthException.class, () -> rfcServer().clientFirst(huge));
        assertEquals("08P01", e.sqlState());
        assertTrue(e.getMessage().contains("too long"));
    }

    @Test
    void invalidUtf8IsRejected() {
        byte[] bad = {'n', ',', ',', 'n', '=', (byte) 0xC3, ',', 'r', '=', 'a'};
        assertEquals("08P01", assertThrows(AuthException.class, () -> rfcServer().clientFirst(bad)).sqlState());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=",
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7A=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!!bZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=ext,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    })
    void malformedClientFinalIs08P01(String message) throws AuthException {
        ScramServerSession server = rfcServer();
        server.clientFirst(bytes(Rfc7677.CLIENT_FIRST));
        AuthException e = assertThrows(AuthException.class, () -> server.clientFinal(bytes(message)));
        assertEquals("08P01", e.sqlState());
    }

    @Test
    void outOfOrderCallsAre08P01() throws AuthException {
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> rfcServer().clientFinal(bytes(Rfc7677.CLIENT_FINAL))).sqlState());

        ScramServerSession twice = rfcServer();
        twice.clientFirst(bytes(Rfc7677.CLIENT_FIRST));
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> twice.clientFirst(bytes(Rfc7677.CLIENT_FIRST))).sqlState());

        ScramServerSession done = rfcServer();
        done.clientFirst(bytes(Rfc7677.CLIENT_FIRST));
        done.clientFinal(bytes(Rfc7677.CLIENT_FINAL));
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> done.clientFinal(bytes(Rfc7677.CLIENT_FINAL))).sqlState());
    }

    @Test
    void aFailedSessionCannotBeRetried() throws AuthException {
        ScramServerSession server = rfcServer();
        server.clientFirst(bytes(Rfc7677.CLIENT_FIRST));
        assertThrows(AuthException.class, () -> server.clientFinal(bytes("c=biws")));
        AuthException e = assertThrows(AuthException.class, () -> server.clientFinal(bytes(Rfc7677.CLIENT_FINAL)));
        assertEquals("08P01", e.sqlState());
    }

    @Test
    void errorMessagesNeverEchoTheProof() throws AuthException {
        ScramServerSession server = rfcServer();
        server.clientFirst(bytes(Rfc7677.CLIENT_FIRST));
        String badProof = Rfc7677.CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
        AuthException e = assertThrows(AuthException.class, () -> server.clientFinal(bytes(badProof)));
        assertFalse(e.getMessage().contains("dHz"));
    }
}
