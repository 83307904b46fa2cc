package io.pgproxy.auth;

/**
 * The verifier shown to users that do not exist. It is derived from a per-process random secret:
 * stable between attempts (a changing salt would reveal the user is fake) yet not recognisable from
 * this source code (a constant salt would too).
 */
final class MockVerifier {

    static final int ITERATIONS = 4096;

    static final ScramVerifier INSTANCE = create();

    private MockVerifier() {
    }

    private static ScramVerifier create() {
        byte[] secret = ScramCrypto.randomBytes(ScramCrypto.KEY_LENGTH);
        byte[] salt = java.util.Arrays.copyOf(ScramCrypto.hmac(secret, new byte[] {'s'}), 16);
        return new ScramVerifier(ITERATIONS, salt,
                ScramCrypto.hmac(secret, new byte[] {'c'}), ScramCrypto.hmac(secret, new byte[] {'k'}));
    }
}
