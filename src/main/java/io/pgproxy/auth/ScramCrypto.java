package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/** The SCRAM-SHA-256 primitives of RFC 5802 section 2.2, shared by verifier, client and server. */
final class ScramCrypto {

    static final int KEY_LENGTH = 32;

    private static final SecureRandom RANDOM = new SecureRandom();
    // Cloned per use: getInstance walks the provider list on every call, which a login pays
    // three times; a clone of an unkeyed instance is the same algorithm without that lookup.
    private static final Mac HMAC_SHA256 = newMac();
    private static final MessageDigest SHA256 = newDigest();

    private ScramCrypto() {
    }

    /** Hi(), i.e. PBKDF2-HMAC-SHA-256 of the SASLprepped password. */
    static byte[] saltedPassword(String password, byte[] salt, int iterations) {
        char[] chars = SaslPrep.prepare(password).toCharArray();
        PBEKeySpec spec = new PBEKeySpec(chars, salt, iterations, KEY_LENGTH * 8);
        try {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 unavailable", e);
        } finally {
            spec.clearPassword();
            Arrays.fill(chars, '\0');
        }
    }

    static byte[] clientKey(byte[] saltedPassword) {
        return hmac(saltedPassword, "Client Key".getBytes(StandardCharsets.US_ASCII));
    }

    static byte[] serverKey(byte[] saltedPassword) {
        return hmac(saltedPassword, "Server Key".getBytes(StandardCharsets.US_ASCII));
    }

    static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = (Mac) HMAC_SHA256.clone();
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException | CloneNotSupportedException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    static byte[] sha256(byte[] data) {
        try {
            return ((MessageDigest) SHA256.clone()).digest(data);
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }

    private static Mac newMac() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            // Settles the provider choice getInstance defers, once, instead of in the first clones.
            mac.getProvider();
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }

    static byte[] xor(byte[] a, byte[] b) {
        byte[] out = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (byte) (a[i] ^ b[i]);
        }
        return out;
    }

    static byte[] randomBytes(int n) {
        byte[] out = new byte[n];
        RANDOM.nextBytes(out);
        return out;
    }

    static String base64(byte[] data) {
        return Base64.getEncoder().encodeToString(data);
    }

    /**
     * Decodes standard padded base64, or returns null. The JDK decoder tolerates missing padding and
     * stray trailing bits; demanding the canonical form keeps one value from having many spellings.
     */
    static byte[] strictBase64(String text) {
        try {
            byte[] decoded = Base64.getDecoder().decode(text);
            return base64(decoded).equals(text) ? decoded : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
