package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Objects;

/**
 * PostgreSQL's md5 password scheme. It is weak (the stored hash is password-equivalent) and kept
 * only for clients and backends that cannot do SCRAM.
 */
public final class Md5Password {

    private static final String PREFIX = "md5";
    private static final int HEX_LENGTH = 32;

    private Md5Password() {
    }

    /** {@code "md5" + hex(md5(password + user))}, the form stored in pg_authid. */
    public static String hash(String user, String password) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
        return PREFIX + hex(md5((password + user).getBytes(StandardCharsets.UTF_8)));
    }

    /** What a client sends for the 4-byte salt of AuthenticationMD5Password. */
    public static String response(String md5Hash, byte[] salt4) {
        if (!isMd5Hash(md5Hash)) {
            throw new IllegalArgumentException("not an md5 password hash");
        }
        if (salt4 == null || salt4.length != 4) {
            throw new IllegalArgumentException("md5 salt must be 4 bytes");
        }
        byte[] hexText = md5Hash.substring(PREFIX.length()).getBytes(StandardCharsets.US_ASCII);
        byte[] input = new byte[hexText.length + salt4.length];
        System.arraycopy(hexText, 0, input, 0, hexText.length);
        System.arraycopy(salt4, 0, input, hexText.length, salt4.length);
        return PREFIX + hex(md5(input));
    }

    public static boolean verify(String storedMd5Hash, byte[] salt4, String clientResponse) {
        if (clientResponse == null || !isMd5Hash(storedMd5Hash) || salt4 == null || salt4.length != 4) {
            return false;
        }
        byte[] expected = response(storedMd5Hash, salt4).getBytes(StandardCharsets.US_ASCII);
        return MessageDigest.isEqual(expected, clientResponse.getBytes(StandardCharsets.UTF_8));
    }

    public static boolean isMd5Hash(String s) {
        if (s == null || s.length() != PREFIX.length() + HEX_LENGTH || !s.startsWith(PREFIX)) {
            return false;
        }
        return s.substring(PREFIX.length()).chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }

    private static byte[] md5(byte[] data) {
        try {
            return MessageDigest.getInstance("MD5").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("MD5 unavailable", e);
        }
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
