package io.pgproxy.auth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SCRAM-SHA-256-PLUS on the server side (RFC 5802 §6, RFC 5929 tls-server-end-point): the client's
 * side is computed here from the password, so the proof is right and only the binding is under test.
 */
class ScramChannelBindingTest {
    private static final String PASSWORD = "pencil";
    private static final ScramVerifier VERIFIER = ScramVerifier.fromPassword(PASSWORD, 4096);
    private static final byte[] END_POINT = ScramCrypto.sha256("the proxy's certificate".getBytes(StandardCharsets.UTF_8));
    private static final byte[] OTHER_END_POINT = ScramCrypto.sha256("a man in the middle's certificate".getBytes(StandardCharsets.UTF_8));
    private static final String GS2_PLUS = "p=tls-server-end-point,,";

    private static final ChannelBinding PLUS_SELECTED = new ChannelBinding(true, true, END_POINT);
    private static final ChannelBinding PLUS_OFFERED = new ChannelBinding(true, false, END_POINT);

    /** Runs a whole exchange; {@code cbindData} is what the client binds to (null: only the gs2 header). */
    private static byte[] exchange(ChannelBinding binding, String gs2, byte[] cbindData, boolean withBinding)
            throws AuthException {
        ScramServerSession server = new ScramServerSession(VERIFIER, binding);
        String clientFirstBare = "n=,r=clientnonce";
        String serverFirst = new String(server.clientFirst((gs2 + clientFirstBare).getBytes(StandardCharsets.UTF_8)),
                StandardCharsets.UTF_8);
        String nonce = serverFirst.substring(2, serverFirst.indexOf(','));
        byte[] header = gs2.getBytes(StandardCharsets.UTF_8);
        byte[] input = header;
        if (cbindData != null) {
            input = java.util.Arrays.copyOf(header, header.length + cbindData.length);
            System.arraycopy(cbindData, 0, input, header.length, cbindData.length);
        }
        String withoutProof = (withBinding ? "c=" + ScramCrypto.base64(input) + "," : "") + "r=" + nonce;
        byte[] salted = ScramCrypto.saltedPassword(PASSWORD, VERIFIER.salt(), VERIFIER.iterations());
        byte[] clientKey = ScramCrypto.clientKey(salted);
        byte[] authMessage = (clientFirstBare + "," + serverFirst + "," + withoutProof).getBytes(StandardCharsets.UTF_8);
        byte[] proof = ScramCrypto.xor(clientKey, ScramCrypto.hmac(ScramCrypto.sha256(clientKey), authMessage));
        return server.clientFinal((withoutProof + ",p=" + ScramCrypto.base64(proof)).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void plusWithTheServersEndPointSucceeds() throws AuthException {
        String serverFinal = new String(exchange(PLUS_SELECTED, GS2_PLUS, END_POINT, true), StandardCharsets.UTF_8);
        assertTrue(serverFinal.startsWith("v="), serverFinal);
    }

    @Test
    void plusBoundToAnotherCertificateIs08P01() {
        // What a client behind a TLS-terminating man in the middle computes: the middle's certificate.
        AuthException e = assertThrows(AuthException.class, () -> exchange(PLUS_SELECTED, GS2_PLUS, OTHER_END_POINT, true));
        assertEquals("08P01", e.sqlState());
        assertTrue(e.getMessage().contains("channel binding"), e.getMessage());
    }

    @Test
    void plusWhoseBindingLeavesOutTheEndPointIs08P01() {
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> exchange(PLUS_SELECTED, GS2_PLUS, null, true)).sqlState());
    }

    @Test
    void clientFinalWithoutItsChannelBindingAttributeIs08P01() {
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> exchange(PLUS_SELECTED, GS2_PLUS, END_POINT, false)).sqlState());
    }

    @Test
    void yWhilePlusWasOfferedIsADowngradeAndFails() {
        AuthException e = assertThrows(AuthException.class, () -> exchange(PLUS_OFFERED, "y,,", null, true));
        assertEquals("08P01", e.sqlState());
        assertTrue(e.getMessage().contains("negotiation error"), e.getMessage());
    }

    @Test
    void yWithoutTlsIsFine() throws AuthException {
        assertTrue(new String(exchange(ChannelBinding.NONE, "y,,", null, true), StandardCharsets.UTF_8).startsWith("v="));
    }

    @Test
    void plainScramOverTlsWithoutBindingIsFineWhenTheClientCannotBind() throws AuthException {
        // A client that does not support channel binding at all says n: allowed where PLUS is not required.
        assertTrue(new String(exchange(PLUS_OFFERED, "n,,", null, true), StandardCharsets.UTF_8).startsWith("v="));
    }

    @ParameterizedTest
    @ValueSource(strings = {"n,,", "y,,"})
    void plusSelectedButNoBindingInTheGs2HeaderIs08P01(String gs2) {
        assertEquals("08P01", assertThrows(AuthException.class, () -> exchange(PLUS_SELECTED, gs2, null, true)).sqlState());
    }

    @Test
    void bindingDataWithoutSelectingPlusIs08P01() {
        assertEquals("08P01", assertThrows(AuthException.class,
                () -> exchange(PLUS_OFFERED, GS2_PLUS, END_POINT, true)).sqlState());
    }

    @ParameterizedTest
    @ValueSource(strings = {"p=tls-unique,,", "p=tls-exporter,,", "p=tls-server-end-point,a=admin,"})
    void otherBindingTypesAndAuthorizationIdentitiesAre08P01(String gs2) {
        assertEquals("08P01", assertThrows(AuthException.class, () -> exchange(PLUS_SELECTED, gs2, END_POINT, true)).sqlState());
    }

    @Test
    void theUnknownUserMockRunsThePlusExchangeToTheProof() throws AuthException {
        ScramServerSession server = ScramServerSession.forUnknownUser("nobody", PLUS_SELECTED);
        String serverFirst = new String(server.clientFirst((GS2_PLUS + "n=,r=abc").getBytes(StandardCharsets.UTF_8)),
                StandardCharsets.UTF_8);
        String nonce = serverFirst.substring(2, serverFirst.indexOf(','));
        byte[] input = java.util.Arrays.copyOf(GS2_PLUS.getBytes(StandardCharsets.UTF_8), GS2_PLUS.length() + END_POINT.length);
        System.arraycopy(END_POINT, 0, input, GS2_PLUS.length(), END_POINT.length);
        String fin = "c=" + ScramCrypto.base64(input) + ",r=" + nonce + ",p=" + ScramCrypto.base64(new byte[32]);
        assertEquals("28P01", assertThrows(AuthException.class,
                () -> server.clientFinal(fin.getBytes(StandardCharsets.UTF_8))).sqlState());
    }
}
