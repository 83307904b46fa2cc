package io.pgproxy.auth;

import java.util.Arrays;
import java.util.Objects;

/**
 * A PostgreSQL SCRAM-SHA-256 verifier, as stored in pg_authid:
 * {@code SCRAM-SHA-256$<iter>:<salt-b64>$<StoredKey-b64>:<ServerKey-b64>}.
 *
 * <p>The keys are password-equivalent for anyone able to watch an exchange, so arrays are copied in
 * and out and {@link #toString()} shows only the iteration count.
 */
public record ScramVerifier(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) {

    private static final String PREFIX = "SCRAM-SHA-256$";
    private static final int SALT_LENGTH = 16;
    // Longest legitimate salt a backend or config file would hold; bounds parsing of hostile input.
    static final int MAX_SALT_BYTES = 1024;
    private static final int MAX_TEXT_LENGTH = 2048;

    public ScramVerifier {
        if (iterations < 1) {
            throw new IllegalArgumentException("SCRAM iteration count must be at least 1");
        }
        Objects.requireNonNull(salt, "salt");
        Objects.requireNonNull(storedKey, "storedKey");
        Objects.requireNonNull(serverKey, "serverKey");
        if (salt.length == 0 || salt.length > MAX_SALT_BYTES) {
            throw new IllegalArgumentException("SCRAM salt must be 1 to " + MAX_SALT_BYTES + " bytes");
        }
        if (storedKey.length != ScramCrypto.KEY_LENGTH || serverKey.length != ScramCrypto.KEY_LENGTH) {
            throw new IllegalArgumentException("SCRAM StoredKey and ServerKey must be 32 bytes each");
        }
        salt = salt.clone();
        storedKey = storedKey.clone();
        serverKey = serverKey.clone();
    }

    /** Parses the pg_authid text form; the exception message never repeats the input. */
    public static ScramVerifier parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("SCRAM verifier is missing");
        }
        if (text.length() > MAX_TEXT_LENGTH) {
            throw new IllegalArgumentException("SCRAM verifier is too long");
        }
        if (!text.startsWith(PREFIX)) {
            throw new IllegalArgumentException("SCRAM verifier must start with " + PREFIX);
        }
        String[] halves = text.substring(PREFIX.length()).split("\\$", -1);
        if (halves.length != 2) {
            throw new IllegalArgumentException("SCRAM verifier must have the form SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
        }
        String[] params = halves[0].split(":", -1);
        String[] keys = halves[1].split(":", -1);
        if (params.length != 2 || keys.length != 2) {
            throw new IllegalArgumentException("SCRAM verifier must have the form SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
        }
        int iterations = parseIterations(params[0]);
        return new ScramVerifier(iterations, decode(params[1], "salt"), decode(keys[0], "StoredKey"), decode(keys[1], "ServerKey"));
    }

    public static ScramVerifier fromPassword(String password, int iterations) {
        return fromPassword(password, iterations, ScramCrypto.randomBytes(SALT_LENGTH));
    }

    public static ScramVerifier fromPassword(String password, int iterations, byte[] salt) {
        Objects.requireNonNull(password, "password");
        if (iterations < 1) {
            throw new IllegalArgumentException("SCRAM iteration count must be at least 1");
        }
        byte[] salted = ScramCrypto.saltedPassword(password, salt, iterations);
        try {
            byte[] clientKey = ScramCrypto.clientKey(salted);
            byte[] storedKey = ScramCrypto.sha256(clientKey);
            Arrays.fill(clientKey, (byte) 0);
            return new ScramVerifier(iterations, salt, storedKey, ScramCrypto.serverKey(salted));
        } finally {
            Arrays.fill(salted, (byte) 0);
        }
    }

    public String encode() {
        return PREFIX + iterations + ":" + ScramCrypto.base64(salt) + "$"
                + ScramCrypto.base64(storedKey) + ":" + ScramCrypto.base64(serverKey);
    }

    @Override
    public byte[] salt() {
        return salt.clone();
    }

    @Override
    public byte[] storedKey() {
        return storedKey.clone();
    }

    @Override
    public byte[] serverKey() {
        return serverKey.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScramVerifier v && iterations == v.iterations && Arrays.equals(salt, v.salt)
                && Arrays.equals(storedKey, v.storedKey) && Arrays.equals(serverKey, v.serverKey);
    }

    @Override
    public int hashCode() {
        int h = Integer.hashCode(iterations);
        h = 31 * h + Arrays.hashCode(salt);
        h = 31 * h + Arrays.hashCode(storedKey);
        return 31 * h + Arrays.hashCode(serverKey);
    }

    @Override
    public String toString() {
        return "ScramVerifier[iterations=" + iterations + "]";
    }

    private static int parseIterations(String digits) {
        // Integer.parseInt would accept a sign; more than 9 digits could overflow.
        if (digits.isEmpty() || digits.length() > 9 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("SCRAM iteration count must be a positive decimal number");
        }
        return Integer.parseInt(digits);
    }

    private static byte[] decode(String b64, String what) {
        byte[] bytes = ScramCrypto.strictBase64(b64);
        if (bytes == null) {
            throw new IllegalArgumentException("SCRAM verifier " + what + " is not valid base64");
        }
        return bytes;
    }
}
