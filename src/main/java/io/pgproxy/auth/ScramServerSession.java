package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Server side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL does it: the proxy verifying a
 * connecting client. One instance per authentication attempt; any failure ends the session.
 *
 * <p>Channel binding is not offered, so only the gs2 headers {@code n,,} and {@code y,,} are
 * accepted; the user name in {@code n=} is ignored because the startup packet already named the user.
 */
public final class ScramServerSession {

    private static final String WRONG_PASSWORD = "28P01";
    private static final String AUTH_FAILED = "password authentication failed";
    private static final int SERVER_NONCE_BYTES = 18;

    private enum State { AWAIT_CLIENT_FIRST, AWAIT_CLIENT_FINAL, DONE, FAILED }

    private final ScramVerifier verifier;
    private final boolean unknownUser;
    private final String serverNonce;
    private State state = State.AWAIT_CLIENT_FIRST;
    private String gs2Header;
    private String clientFirstBare;
    private String serverFirst;
    private String combinedNonce;
    /** Kept after a successful proof for SCRAM passthrough to the backend. */
    private byte[] clientKey;

    /** @param verifierOrNull null for an unknown user: the exchange runs to the end and then fails. */
    public ScramServerSession(ScramVerifier verifierOrNull) {
        this(verifierOrNull, "", ScramCrypto.base64(ScramCrypto.randomBytes(SERVER_NONCE_BYTES)));
    }

    /** The exchange for a user that does not exist: a challenge like any other, failing at the proof. */
    public static ScramServerSession forUnknownUser(String user) {
        return new ScramServerSession(null, user, ScramCrypto.base64(ScramCrypto.randomBytes(SERVER_NONCE_BYTES)));
    }

    /** Fixed server nonce, for reproducing published test vectors. */
    ScramServerSession(ScramVerifier verifierOrNull, String serverNonce) {
        this(verifierOrNull, "", serverNonce);
    }

    private ScramServerSession(ScramVerifier verifierOrNull, String user, String serverNonce) {
        this.unknownUser = verifierOrNull == null;
        this.verifier = unknownUser ? MockVerifier.forUser(user) : verifierOrNull;
        this.serverNonce = serverNonce;
    }

    public byte[] clientFirst(byte[] clientFirstMessage) throws AuthException {
        expectState(State.AWAIT_CLIENT_FIRST);
        try {
            String text = ScramMessage.decode(clientFirstMessage);
            gs2Header = parseGs2Header(text);
            clientFirstBare = text.substring(gs2Header.length());
            ScramMessage bare = ScramMessage.of(clientFirstBare);
            if (bare.nextIs('m')) {
                throw ScramMessage.malformed("SCRAM extensions (m=) are not supported");
            }
            bare.require('n', "user name");
            String clientNonce = bare.require('r', "nonce");
            bare.requireEnd();
            if (!ScramMessage.isPrintableNonce(clientNonce)) {
                throw ScramMessage.malformed("SCRAM client nonce is empty or not printable");
            }
            combinedNonce = clientNonce + serverNonce;
            serverFirst = "r=" + combinedNonce + ",s=" + ScramCrypto.base64(verifier.salt()) + ",i=" + verifier.iterations();
            state = State.AWAIT_CLIENT_FINAL;
            return serverFirst.getBytes(StandardCharsets.UTF_8);
        } catch (AuthException e) {
            state = State.FAILED;
            throw e;
        }
    }

    public byte[] clientFinal(byte[] clientFinalMessage) throws AuthException {
        expectState(State.AWAIT_CLIENT_FINAL);
        try {
            ScramMessage message = ScramMessage.of(ScramMessage.decode(clientFinalMessage));
            String binding = message.require('c', "channel binding");
            String nonce = message.require('r', "nonce");
            String withoutProof = message.consumed();
            String proofText = message.require('p', "proof");
            message.requireEnd();
            if (!binding.equals(ScramCrypto.base64(gs2Header.getBytes(StandardCharsets.UTF_8)))) {
                throw ScramMessage.malformed("SCRAM channel binding does not match the client-first-message");
            }
            if (!nonce.equals(combinedNonce)) {
                throw ScramMessage.malformed("SCRAM nonce does not match");
            }
            byte[] proof = ScramCrypto.strictBase64(proofText);
            if (proof == null || proof.length != ScramCrypto.KEY_LENGTH) {
                throw ScramMessage.malformed("SCRAM proof is not base64 of 32 bytes");
            }
            byte[] authMessage = (clientFirstBare + "," + serverFirst + "," + withoutProof).getBytes(StandardCharsets.UTF_8);
            byte[] storedKey = verifier.storedKey();
            byte[] clientKey = ScramCrypto.xor(proof, ScramCrypto.hmac(storedKey, authMessage));
            boolean proofOk = MessageDigest.isEqual(ScramCrypto.sha256(clientKey), storedKey);
            // Checked after the proof so a probe for user names pays and sees exactly what a wrong password does.
            if (!proofOk || unknownUser) {
                throw new AuthException(WRONG_PASSWORD, AUTH_FAILED);
            }
            state = State.DONE;
            this.clientKey = clientKey;
            String serverSignature = ScramCrypto.base64(ScramCrypto.hmac(verifier.serverKey(), authMessage));
            return ("v=" + serverSignature).getBytes(StandardCharsets.UTF_8);
        } catch (AuthException e) {
            state = State.FAILED;
            throw e;
        }
    }

    /**
     * The client's passthrough keys, once its proof was verified: its ClientKey (the proof XOR
     * HMAC(StoredKey, AuthMessage), which hashes to StoredKey) with the verifier.
     */
    public ScramKeys keys() {
        if (state != State.DONE) {
            throw new IllegalStateException("SCRAM exchange not completed");
        }
        return new ScramKeys(clientKey, verifier);
    }

    private void expectState(State expected) throws AuthException {
        if (state != expected) {
            state = State.FAILED;
            throw ScramMessage.malformed("SCRAM message out of order");
        }
    }

    private static String parseGs2Header(String text) throws AuthException {
        if (text.startsWith("n,,") || text.startsWith("y,,")) {
            return text.substring(0, 3);
        }
        if (text.startsWith("p=")) {
            throw ScramMessage.malformed("channel binding not supported");
        }
        if (text.startsWith("n,") || text.startsWith("y,")) {
            throw ScramMessage.malformed("SCRAM authorization identity is not supported");
        }
        throw ScramMessage.malformed("malformed SCRAM message: invalid gs2 header");
    }
}
