package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Server side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL does it: the proxy verifying a
 * connecting client. One instance per authentication attempt; any failure ends the session.
 *
 * <p>Channel binding ({@link ChannelBinding}) follows PostgreSQL: {@code p=tls-server-end-point}
 * only when the client selected SCRAM-SHA-256-PLUS, {@code n} or {@code y} only when it did not, and
 * {@code y} (the client thinks the server cannot bind) refused when PLUS was offered, since a
 * man in the middle stripping PLUS from the mechanism list would produce exactly that. The user
 * name in {@code n=} is ignored because the startup packet already named the user.
 */
public final class ScramServerSession {

    private static final String WRONG_PASSWORD = "28P01";
    private static final String AUTH_FAILED = "password authentication failed";
    private static final int SERVER_NONCE_BYTES = 18;

    private enum State { AWAIT_CLIENT_FIRST, AWAIT_CLIENT_FINAL, DONE, FAILED }

    private final ScramVerifier verifier;
    private final boolean unknownUser;
    private final String serverNonce;
    private final ChannelBinding binding;
    private State state = State.AWAIT_CLIENT_FIRST;
    private String gs2Header;
    /** What the client-final's {@code c=} must carry, base64-encoded: the gs2 header, then the binding data with p=. */
    private byte[] channelBindingInput;
    private String clientFirstBare;
    private String serverFirst;
    private String combinedNonce;
    /** Kept after a successful proof for SCRAM passthrough to the backend. */
    private byte[] clientKey;

    /** @param verifierOrNull null for an unknown user: the exchange runs to the end and then fails. */
    public ScramServerSession(ScramVerifier verifierOrNull) {
        this(verifierOrNull, ChannelBinding.NONE);
    }

    public ScramServerSession(ScramVerifier verifierOrNull, ChannelBinding binding) {
        this(verifierOrNull, "", ScramCrypto.base64(ScramCrypto.randomBytes(SERVER_NONCE_BYTES)), binding);
    }

    /** The exchange for a user that does not exist: a challenge like any other, failing at the proof. */
    public static ScramServerSession forUnknownUser(String user) {
        return forUnknownUser(user, ChannelBinding.NONE);
    }

    public static ScramServerSession forUnknownUser(String user, ChannelBinding binding) {
        return new ScramServerSession(null, user, ScramCrypto.base64(ScramCrypto.randomBytes(SERVER_NONCE_BYTES)), binding);
    }

    /** Fixed server nonce, for reproducing published test vectors. */
    ScramServerSession(ScramVerifier verifierOrNull, String serverNonce) {
        this(verifierOrNull, "", serverNonce, ChannelBinding.NONE);
    }

    private ScramServerSession(ScramVerifier verifierOrNull, String user, String serverNonce, ChannelBinding binding) {
        this.unknownUser = verifierOrNull == null;
        this.verifier = unknownUser ? MockVerifier.forUser(user) : verifierOrNull;
        this.serverNonce = serverNonce;
        this.binding = binding;
    }

    public byte[] clientFirst(byte[] clientFirstMessage) throws AuthException {
        expectState(State.AWAIT_CLIENT_FIRST);
        try {
            String text = ScramMessage.decode(clientFirstMessage);
            gs2Header = parseGs2Header(text);
            channelBindingInput = channelBindingInput(gs2Header);
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
            String cbind = message.require('c', "channel binding");
            String nonce = message.require('r', "nonce");
            String withoutProof = message.consumed();
            String proofText = message.require('p', "proof");
            message.requireEnd();
            if (!MessageDigest.isEqual(cbind.getBytes(StandardCharsets.UTF_8),
                    ScramCrypto.base64(channelBindingInput).getBytes(StandardCharsets.UTF_8))) {
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

    private byte[] channelBindingInput(String header) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        if (!header.startsWith("p=")) {
            return h;
        }
        byte[] data = binding.serverEndPoint();
        byte[] all = java.util.Arrays.copyOf(h, h.length + data.length);
        System.arraycopy(data, 0, all, h.length, data.length);
        return all;
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

    private String parseGs2Header(String text) throws AuthException {
        String plusWithout = "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.";
        if (text.startsWith("n,,")) {
            if (binding.selected()) {
                throw ScramMessage.malformed(plusWithout);
            }
            return text.substring(0, 3);
        }
        if (text.startsWith("y,,")) {
            if (binding.selected()) {
                throw ScramMessage.malformed(plusWithout);
            }
            if (binding.offered()) {
                throw ScramMessage.malformed("SCRAM channel binding negotiation error: the client supports channel binding "
                        + "but thinks the server does not, though it does");
            }
            return text.substring(0, 3);
        }
        if (text.startsWith("p=")) {
            if (!binding.selected()) {
                throw ScramMessage.malformed("The client selected SCRAM-SHA-256 without channel binding, "
                        + "but the SCRAM message includes channel binding data.");
            }
            String prefix = "p=" + ChannelBinding.TLS_SERVER_END_POINT + ",,";
            if (!text.startsWith(prefix)) {
                throw ScramMessage.malformed(text.startsWith("p=" + ChannelBinding.TLS_SERVER_END_POINT + ",")
                        ? "SCRAM authorization identity is not supported" : "unsupported SCRAM channel-binding type");
            }
            return prefix;
        }
        if (text.startsWith("n,") || text.startsWith("y,")) {
            throw ScramMessage.malformed("SCRAM authorization identity is not supported");
        }
        throw ScramMessage.malformed("malformed SCRAM message: invalid gs2 header");
    }
}
