package io.pgproxy.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class Md5PasswordTest {

    private static final byte[] SALT = {(byte) 0x01, (byte) 0x7f, (byte) 0x80, (byte) 0xff};

    @Test
    void knownHash() {
        assertEquals("md53175bce1d3201d16594cebf9d7eb3f9d", Md5Password.hash("postgres", "postgres"));
    }

    @Test
    void responseConcatenatesHexTextAndRawSaltBytes() throws Exception {
        String stored = Md5Password.hash("postgres", "postgres");
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        md5.update("3175bce1d3201d16594cebf9d7eb3f9d".getBytes(StandardCharsets.US_ASCII));
        md5.update(SALT);
        String expected = "md5" + HexFormat.of().formatHex(md5.digest());
        assertEquals(expected, Md5Password.response(stored, SALT));
    }

    @Test
    void verifyAcceptsOnlyTheRightResponse() {
        String stored = Md5Password.hash("alice", "secret");
        String response = Md5Password.response(stored, SALT);
        assertTrue(Md5Password.verify(stored, SALT, response));
        assertFalse(Md5Password.verify(stored, new byte[] {1, 2, 3, 4}, response));
        assertFalse(Md5Password.verify(Md5Password.hash("alice", "other"), SALT, response));
        assertFalse(Md5Password.verify(stored, SALT, response.toUpperCase()));
        assertFalse(Md5Password.verify(stored, SALT, null));
        assertFalse(Md5Password.verify("plain", SALT, response));
        assertFalse(Md5Password.verify(stored, new byte[3], response));
    }

    @Test
    void recognisesMd5Hashes() {
        assertTrue(Md5Password.isMd5Hash("md53175bce1d3201d16594cebf9d7eb3f9d"));
        assertFalse(Md5Password.isMd5Hash("md53175BCE1d3201d16594cebf9d7eb3f9d"));
        assertFalse(Md5Password.isMd5Hash("md53175bce1d3201d16594cebf9d7eb3f9"));
        assertFalse(Md5Password.isMd5Hash("md53175bce1d3201d16594cebf9d7eb3f9dd"));
        assertFalse(Md5Password.isMd5Hash("xx53175bce1d3201d16594cebf9d7eb3f9d"));
        assertFalse(Md5Password.isMd5Hash("md53175bce1d3201d16594cebf9d7eb3f9g"));
        assertFalse(Md5Password.isMd5Hash(null));
    }

    @Test
    void responseRejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> Md5Password.response("secret", SALT));
        assertThrows(IllegalArgumentException.class, () -> Md5Password.response(Md5Password.hash("a", "b"), new byte[5]));
    }
}
