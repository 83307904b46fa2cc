package io.pgproxy.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ScramVerifierTest {

    private static final String PENCIL =
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

    @Test
    void fromPasswordMatchesAnIndependentHmacComputation() throws Exception {
        ScramVerifier v = ScramVerifier.fromPassword("pencil", 4096, Rfc7677.SALT);
        byte[] salted = hi("pencil".getBytes(StandardCharsets.UTF_8), Rfc7677.SALT, 4096);
        byte[] clientKey = hmac(salted, "Client Key");
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(clientKey), v.storedKey());
        assertArrayEquals(hmac(salted, "Server Key"), v.serverKey());
        assertEquals(4096, v.iterations());
        assertArrayEquals(Rfc7677.SALT, v.salt());
    }

    @Test
    void knownVerifierForPencil() {
        // RFC 7677's salt and count; the keys are the ones its example exchange proves against.
        assertEquals(PENCIL, ScramVerifier.fromPassword("pencil", 4096, Rfc7677.SALT).encode());
    }

    @Test
    void parseEncodeRoundTrip() {
        ScramVerifier parsed = ScramVerifier.parse(PENCIL);
        assertEquals(PENCIL, parsed.encode());
        assertEquals(Rfc7677.verifier(), parsed);
        assertEquals(Rfc7677.verifier().hashCode(), parsed.hashCode());
        ScramVerifier random = ScramVerifier.fromPassword("pencil", 4096);
        assertEquals(random, ScramVerifier.parse(random.encode()));
        assertEquals(16, random.salt().length);
        assertNotEquals(parsed, random);
    }

    @Test
    void toStringHidesKeys() {
        ScramVerifier v = ScramVerifier.parse(PENCIL);
        assertEquals("ScramVerifier[iterations=4096]", v.toString());
    }

    @Test
    void arraysAreDefensivelyCopied() {
        ScramVerifier v = ScramVerifier.parse(PENCIL);
        v.storedKey()[0] ^= 1;
        v.salt()[0] ^= 1;
        assertEquals(PENCIL, v.encode());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "md53175bce1d3201d16594cebf9d7eb3f9d",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$99999999999:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4q==:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=$x",
        "SCRAM-SHA-256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    })
    void malformedVerifiersAreRejectedWithoutEchoingThem(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ScramVerifier.parse(text));
        assertFalse(e.getMessage().contains("WG5d8"));
        assertFalse(e.getMessage().contains("wfPL"));
    }

    @Test
    void nullAndHugeInputsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> ScramVerifier.parse(null));
        assertThrows(IllegalArgumentException.class, () -> ScramVerifier.parse("SCRAM-SHA-256$" + "1".repeat(10_000)));
    }

    private static byte[] hi(byte[] password, byte[] salt, int iterations) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(password, "HmacSHA256"));
        mac.update(salt);
        byte[] u = mac.doFinal(new byte[] {0, 0, 0, 1});
        byte[] result = u.clone();
        for (int i = 1; i < iterations; i++) {
            u = mac.doFinal(u);
            for (int j = 0; j < result.length; j++) {
                result[j] ^= u[j];
            }
        }
        return result;
    }

    private static byte[] hmac(byte[] key, String data) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return mac.doFinal(data.getBytes(StandardCharsets.US_ASCII));
    }
}
