package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * Client side of SCRAM-SHA-256: the proxy authenticating to a backend PostgreSQL. The backend is not
 * trusted until it proves knowledge of the verifier in the server-final-message, so everything it
 * sends is bounded before it can cost memory or CPU.
 */
public final class ScramClientSession {

    private static final int CLIENT_NONCE_BYTES = 24;
    private static final int MAX_SERVER_NONCE_CHARS = 1024;
    private static final String GS2_HEADER = "n,,";
    private static final String CHANNEL_BINDING = "c=" + ScramCrypto.base64(GS2_HEADER.getBytes(StandardCharsets.US_ASCII));

    private enum State { INITIAL, AWAIT_SERVER_FIRST, AWAIT_SERVER_FINAL, DONE, FAILED }

    private final String password;
    private final int maxIterations;
    private final String clientNonce;
    private final String clientFirstBare;
    private State state = State.INITIAL;
    private byte[] expectedServerSignature;

    public ScramClientSession(String password, int maxIterations) {
        // PostgreSQL takes the user from the startup packet and ignores n=.
        this(password, maxIterations, "", ScramCrypto.base64(ScramCrypto.randomBytes(CLIENT_NONCE_BYTES)));
    }

    /** Fixed user name and nonce, for reproducing published test vectors. */
    ScramClientSession(String password, int maxIterations, String user, String clientNonce) {
        this.password = Objects.requireNonNull(password, "password");
        if (maxIterations < 1) {
            throw new IllegalArgumentException("maxIterations must be at least 1");
        }
        this.maxIterations = maxIterations;
        this.clientNonce = clientNonce;
        this.clientFirstBare = "n=" + saslName(user) + ",r=" + clientNonce;
    }

    public byte[] clientFirstMessage() {
        if (state != State.INITIAL && state != State.AWAIT_SERVER_FIRST) {
            throw new IllegalStateException("SCRAM client-first-message already answered");
        }
        state = State.AWAIT_SERVER_FIRST;
        return (GS2_HEADER + clientFirstBare).getBytes(StandardCharsets.UTF_8);
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
            String withoutProof = CHANNEL_BINDING + ",r=" + nonce;
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

    private byte[] proveAndRemember(byte[] salt, int iterations, byte[] authMessage) {
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

    private void validateNonce(String nonce) throws AuthException {
        if (!nonce.startsWith(clientNonce) || nonce.length() == clientNonce.length()) {
            throw ScramMessage.malformed("SCRAM server nonce does not extend the client nonce");
        }
        if (nonce.length() - clientNonce.length() > MAX_SERVER_NONCE_CHARS) {
            throw ScramMessage.malformed("SCRAM server nonce is too long");
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
            throw ScramMessage.malformed("SCRAM iteration count " + iterations + " is outside 1.." + maxIterations);
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
