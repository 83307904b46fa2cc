package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The verifier shown to users that do not exist, as PostgreSQL's mock authentication does. It is
 * derived from a per-process random secret and the user's name: stable between attempts for one
 * name (a changing salt would reveal the user is fake), different between names (one salt shared
 * by every unknown name would reveal them too), and not recognisable from this source code. No
 * password matches it: its keys are random, not derived from one.
 */
final class MockVerifier {

    static final int ITERATIONS = 4096;
    private static final byte[] SECRET = ScramCrypto.randomBytes(ScramCrypto.KEY_LENGTH);
    private static final byte[] STORED_KEY = ScramCrypto.hmac(SECRET, new byte[] {'c'});
    private static final byte[] SERVER_KEY = ScramCrypto.hmac(SECRET, new byte[] {'k'});

    private MockVerifier() {
    }

    static ScramVerifier forUser(String user) {
        byte[] name = ("s" + user).getBytes(StandardCharsets.UTF_8);
        byte[] salt = Arrays.copyOf(ScramCrypto.hmac(SECRET, name), 16);
        return new ScramVerifier(ITERATIONS, salt, STORED_KEY, SERVER_KEY);
    }
}
