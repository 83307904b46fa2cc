package io.pgproxy.config;

import java.util.Base64;

/** Well-formed but meaningless secrets: the config package checks shape, not cryptography. */
final class TestSecrets {
    static final String VERIFIER = "SCRAM-SHA-256$4096:" + b64(16, 1) + "$" + b64(32, 2) + ":" + b64(32, 3);
    static final String MD5_HASH = "md5" + "0123456789abcdef".repeat(2);

    private TestSecrets() {
    }

    private static String b64(int length, int fill) {
        byte[] bytes = new byte[length];
        java.util.Arrays.fill(bytes, (byte) fill);
        return Base64.getEncoder().encodeToString(bytes);
    }
}
