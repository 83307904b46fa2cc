package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * Client side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS: the proxy authenticating to a backend
 * PostgreSQL, with a password or with passthrough keys ({@link ScramKeys}). The backend is not
 * trusted until it proves knowledge of the verifier in the server-final-message, so everything it
 * sends is bounded before it can cost memory or CPU.
 */
public final class ScramClientSession {

    private static final int CLIENT_NONCE_BYTES = 24;
    /** The cap when none is given (tests): far past PostgreSQL's 24 characters. */
    private static final int DEFAULT_MAX_SERVER_NONCE_CHARS = 1024;
    /** No channel binding: "n" without TLS; "y" over TLS when the backend does not offer -PLUS. */
    private static final String GS2_NONE = "n,,";
    private static final String GS2_SUPPORTED = "y,,";
    private static final String GS2_SERVER_END_POINT = "p=tls-server-end-point,,";

    private enum State { INITIAL, AWAIT_SERVER_FIRST, AWAIT_SERVER_FINAL, DONE, FAILED }

    /** Either a password or passthrough keys, never both. */
    private final String password;
    private final ScramKeys keys;
    private final int maxIterations;
    private final int maxServerNonceChars;
    private final String clientNonce;
    private final String clientFirstBare;
    private final String gs2Header;
    /** {@code c=}: the gs2 header and, for -PLUS, the tls-server-end-point data. */
    private final String channelBinding;
    private State state = State.INITIAL;
    private byte[] expectedServerSignature;

    public ScramClientSession(String password, int maxIterations) {
        // PostgreSQL takes the user from the startup packet and ignores n=.
        this(password, null, maxIterations, DEFAULT_MAX_SERVER_NONCE_CHARS, "", randomNonce(), GS2_NONE, null);
    }

    /** Fixed user name and nonce, for reproducing published test vectors. */
    ScramClientSession(String password, int maxIterations, String user, String clientNonce) {
        this(password, null, maxIterations, DEFAULT_MAX_SERVER_NONCE_CHARS, user, clientNonce, GS2_NONE, null);
    }

    /**
     * A session for a backend connection.
     *
     * @param password        the backend password, or null to log in with {@code keys}
     * @param keys            SCRAM passthrough keys, or null to log in with {@code password}
     * @param tls             whether the connection runs over TLS
     * @param serverEndPoint  tls-server-end-point data to bind to (SCRAM-SHA-256-PLUS), or null
     */
    public static ScramClientSession forBackend(String password, ScramKeys keys, int maxIterations,
                                                int maxServerNonceChars, boolean tls, byte[] serverEndPoint) {
        String gs2 = serverEndPoint != null ? GS2_SERVER_END_POINT : tls ? GS2_SUPPORTED : GS2_NONE;
        return new ScramClientSession(password, keys, maxIterations, maxServerNonceChars, "", randomNonce(), gs2,
                serverEndPoint);
    }

    private ScramClientSession(String password, ScramKeys keys, int maxIterations, int maxServerNonceChars,
                               String user, String clientNonce, String gs2Header, byte[] serverEndPoint) {
        if ((password == null) == (keys == null)) {
            throw new IllegalArgumentException("exactly one of a password and passthrough keys is needed");
        }
        this.password = password;
        this.keys = keys;
        if (maxIterations < 1 || maxServerNonceChars < 1) {
            throw new IllegalArgumentException("maxIterations and maxServerNonceChars must be at least 1");
        }
        this.maxIterations = maxIterations;
        this.maxServerNonceChars = maxServerNonceChars;
        this.clientNonce = clientNonce;
        this.clientFirstBare = "n=" + saslName(user) + ",r=" + clientNonce;
        this.gs2Header = gs2Header;
        byte[] header = gs2Header.getBytes(StandardCharsets.US_ASCII);
        byte[] binding = serverEndPoint == null ? header : concat(header, serverEndPoint);
        this.channelBinding = "c=" + ScramCrypto.base64(binding);
    }

    /** The SASL mechanism this session speaks. */
    public String mechanism() {
        return gs2Header.equals(GS2_SERVER_END_POINT) ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
    }

    /** Whether the backend proved it knows the verifier (a valid server-final-message). */
    public boolean completed() {
        return state == State.DONE;
    }

    private static String randomNonce() {
        return ScramCrypto.base64(ScramCrypto.randomBytes(CLIENT_NONCE_BYTES));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    public byte[] clientFirstMessage() {
        if (state != State.INITIAL && state != State.AWAIT_SERVER_FIRST) {
            throw new IllegalStateException("SCRAM client-first-message already answered");
        }
        state = State.AWAIT_SERVER_FIRST;
        return (gs2Header + clientFirstBare).getBytes(StandardCharsets.UTF_8);
    }

    public byte[] serverFirst(byte[] serverFirstMessage) throws AuthException {
        expectState(State.AWAIT_SERVER_FIRST);
        try {
            String text = ScramMessage.decode(serverFirstMessage);
            ScramMessage message = ScramMessage.of(text);
            if (message.nextIs('m')) {
                throw ScramMessage.malformed("SCRAM extensions (m=) are not supported");
            }
            String nonce = message.require('r', "nonce");
            String saltText = message.require('s', "salt");
            String iterationText = message.require('i', "iteration count");
            message.requireEnd();
            validateNonce(nonce);
            byte[] salt = ScramCrypto.strictBase64(saltText);
            if (salt == null || salt.length == 0 || salt.length > ScramVerifier.MAX_SALT_BYTES) {
                throw ScramMessage.malformed("SCRAM salt is not valid base64 of 1 to " + ScramVerifier.MAX_SALT_BYTES + " bytes");
            }
            int iterations = parseIterations(iterationText);
            String withoutProof = channelBinding + ",r=" + nonce;
            byte[] authMessage = (clientFirstBare + "," + text + "," + withoutProof).getBytes(StandardCharsets.UTF_8);
            byte[] proof = proveAndRemember(salt, iterations, authMessage);
            state = State.AWAIT_SERVER_FINAL;
            return (withoutProof + ",p=" + ScramCrypto.base64(proof)).getBytes(StandardCharsets.UTF_8);
        } catch (AuthException e) {
            state = State.FAILED;
            throw e;
        }
    }

    public void serverFinal(byte[] serverFinalMessage) throws AuthException {
        expectState(State.AWAIT_SERVER_FINAL);
        try {
            ScramMessage message = ScramMessage.of(ScramMessage.decode(serverFinalMessage));
            if (message.nextIs('e')) {
                String error = message.require('e', "server error");
                throw new AuthException("28P01", "backend rejected SCRAM authentication: " + printable(error));
            }
            String verifierText = message.require('v', "server signature");
            message.requireEnd();
            byte[] signature = ScramCrypto.strictBase64(verifierText);
            if (signature == null || signature.length != ScramCrypto.KEY_LENGTH) {
                throw ScramMessage.malformed("SCRAM server signature is not base64 of 32 bytes");
            }
            if (!MessageDigest.isEqual(signature, expectedServerSignature)) {
                throw new AuthException("28P01", "backend SCRAM server signature is wrong");
            }
            state = State.DONE;
        } catch (AuthException e) {
            state = State.FAILED;
            throw e;
        } finally {
            Arrays.fill(expectedServerSignature, (byte) 0);
        }
    }

    private byte[] proveAndRemember(byte[] salt, int iterations, byte[] authMessage) throws AuthException {
        if (keys != null) {
            return proveWithKeys(salt, iterations, authMessage);
        }
        byte[] salted = ScramCrypto.saltedPassword(password, salt, iterations);
        byte[] clientKey = ScramCrypto.clientKey(salted);
        byte[] serverKey = ScramCrypto.serverKey(salted);
        try {
            byte[] storedKey = ScramCrypto.sha256(clientKey);
            expectedServerSignature = ScramCrypto.hmac(serverKey, authMessage);
            return ScramCrypto.xor(clientKey, ScramCrypto.hmac(storedKey, authMessage));
        } finally {
            Arrays.fill(salted, (byte) 0);
            Arrays.fill(clientKey, (byte) 0);
            Arrays.fill(serverKey, (byte) 0);
        }
    }

    /**
     * SCRAM passthrough: the ClientKey stands in for the salted password, so the backend must have
     * salted with the very verifier the keys came from.
     */
    private byte[] proveWithKeys(byte[] salt, int iterations, byte[] authMessage) throws AuthException {
        ScramVerifier v = keys.verifier();
        if (iterations != v.iterations() || !Arrays.equals(salt, v.salt())) {
            throw new AuthException("28000", "SCRAM passthrough impossible: the backend's salt or iteration count"
                    + " (i=" + iterations + ") differ from those of the verifier pgproxy holds (i=" + v.iterations()
                    + "); set the user's password in pgproxy to the backend's own verifier (pg_authid.rolpassword)");
        }
        byte[] clientKey = keys.clientKey();
        try {
            expectedServerSignature = ScramCrypto.hmac(v.serverKey(), authMessage);
            return ScramCrypto.xor(clientKey, ScramCrypto.hmac(v.storedKey(), authMessage));
        } finally {
            Arrays.fill(clientKey, (byte) 0);
        }
    }

    private void validateNonce(String nonce) throws AuthException {
        if (!nonce.startsWith(clientNonce) || nonce.length() == clientNonce.length()) {
            throw ScramMessage.malformed("SCRAM server nonce does not extend the client nonce");
        }
        if (nonce.length() - clientNonce.length() > maxServerNonceChars) {
            throw ScramMessage.malformed("SCRAM server nonce is longer than " + maxServerNonceChars
                    + " characters (pgproxy.limits.max-scram-nonce-length)");
        }
        if (!ScramMessage.isPrintableNonce(nonce)) {
            throw ScramMessage.malformed("SCRAM server nonce is not printable");
        }
    }

    private int parseIterations(String digits) throws AuthException {
        // Bounded digit count before parsing: a hostile value must neither overflow nor wrap below the cap.
        if (digits.isEmpty() || digits.length() > 10 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw ScramMessage.malformed("SCRAM iteration count is not a number");
        }
        long iterations = Long.parseLong(digits);
        if (iterations < 1 || iterations > maxIterations) {
            throw ScramMessage.malformed("SCRAM iteration count " + iterations + " is outside 1.." + maxIterations
                    + " (pgproxy.limits.max-scram-iterations)");
        }
        return (int) iterations;
    }

    private void expectState(State expected) throws AuthException {
        if (state != expected) {
            state = State.FAILED;
            throw ScramMessage.malformed("SCRAM message out of order");
        }
    }

    private static String saslName(String user) {
        return user.replace("=", "=3D").replace(",", "=2C");
    }

    /** The server's e= text is only ever a short token; keep anything else out of our messages. */
    private static String printable(String s) {
        String cut = s.length() > 64 ? s.substring(0, 64) : s;
        return cut.replaceAll("[^A-Za-z0-9._-]", "?");
    }
}
