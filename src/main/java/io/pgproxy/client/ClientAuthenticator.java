package io.pgproxy.client;

import io.pgproxy.auth.AuthException;
import io.pgproxy.auth.ChannelBinding;
import io.pgproxy.auth.CleartextPassword;
import io.pgproxy.auth.Md5Password;
import io.pgproxy.auth.ScramKeys;
import io.pgproxy.auth.ScramServerSession;
import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.UserConfig;
import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.PasswordMessage;
import io.pgproxy.protocol.message.SaslInitialResponse;
import io.pgproxy.tls.ClientTls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.List;
import java.util.function.Supplier;

/**
 * The exchanges of the proxy authenticating a client: SCRAM-SHA-256 (and -PLUS over TLS), md5,
 * a cleartext password, or none (trust, cert). Which one, and whether the connection allows it,
 * {@link AuthPolicy} decides. Every client message here is read with a small length limit and
 * must be a password-type message; anything else (a second StartupMessage, garbage) is a
 * protocol violation.
 */
final class ClientAuthenticator {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final ClientChannel out;
    private final MessageReader in;
    private final int maxMessage;
    private final ClientTls tls;
    /** A SCRAM login's passthrough keys, once its proof was verified. */
    private ScramKeys scramKeys;

    /** @param tls the client's TLS session, or null for plaintext */
    ClientAuthenticator(ClientChannel out, MessageReader in, int maxMessage, ClientTls tls) {
        this.out = out;
        this.in = in;
        this.maxMessage = maxMessage;
        this.tls = tls;
    }

    /**
     * Runs {@code method}'s exchange for {@code user}; returns normally only when it succeeded.
     * An unknown user, or one without a usable secret, goes through the same exchange as any
     * other and fails where a wrong password would.
     *
     * @param verifier the user's parsed SCRAM verifier, asked for only when the user logs in with SCRAM
     */
    void authenticate(AuthMethod method, UserLookup user, Supplier<ScramVerifier> verifier) throws IOException, AuthException {
        switch (method) {
            case TRUST, CERT -> {
                // Nothing to exchange: the rule (or the certificate, checked before) vouches for the client.
            }
            case MD5 -> md5(((UserLookup.Known) user).user());
            case PASSWORD -> cleartext(user);
            case SCRAM_SHA_256, SCRAM_SHA_256_PLUS -> {
                boolean known = hasScramSecret(user);
                ScramServerSession done = scram(name(user), AuthPolicy.mechanisms(method, tls), known ? verifier.get() : null);
                if (known) {
                    scramKeys = done.keys();
                }
            }
            case REJECT -> throw new IllegalStateException("reject is refused before any exchange");
        }
    }

    private void md5(UserConfig user) throws IOException, AuthException {
        byte[] salt = new byte[4];
        RANDOM.nextBytes(salt);
        out.send(new Authentication.Md5Password(salt).encode());
        PasswordMessage p = PasswordMessage.decode(passwordMessage().body());
        if (!Md5Password.verify(user.secret(), salt, p.password())) {
            throw wrongPassword(user.name());
        }
    }

    private void cleartext(UserLookup user) throws IOException, AuthException {
        out.send(new Authentication.CleartextPassword().encode());
        PasswordMessage p = PasswordMessage.decode(passwordMessage().body());
        String secret = user instanceof UserLookup.Known k ? k.user().secret() : null;
        if (!CleartextPassword.matches(secret, name(user), p.password())) {
            throw wrongPassword(name(user));
        }
    }

    /** What a successful SCRAM login revealed for SCRAM passthrough to backends, else null. */
    ScramKeys scramKeys() {
        return scramKeys;
    }

    /**
     * One SCRAM exchange; {@code verifierOrNull} null runs the mock exchange, which fails at the
     * proof like a wrong password, so an unknown user cannot be told from a known one.
     */
    private ScramServerSession scram(String user, List<String> mechanisms, ScramVerifier verifierOrNull)
            throws IOException, AuthException {
        out.send(new Authentication.Sasl(mechanisms).encode());
        SaslInitialResponse initial = SaslInitialResponse.decode(passwordMessage().body());
        if (!mechanisms.contains(initial.mechanism())) {
            throw new AuthException("08P01", "client selected an invalid SASL authentication mechanism");
        }
        ChannelBinding binding = tls == null ? ChannelBinding.NONE : new ChannelBinding(
                mechanisms.contains(AuthPolicy.SCRAM_PLUS), initial.mechanism().equals(AuthPolicy.SCRAM_PLUS),
                tls.serverEndPoint());
        ScramServerSession scram = verifierOrNull == null ? ScramServerSession.forUnknownUser(user, binding)
                : new ScramServerSession(verifierOrNull, binding);
        out.send(new Authentication.SaslContinue(scram.clientFirst(initial.data())).encode());
        ByteBuffer body = passwordMessage().body();
        byte[] clientFinal = Wire.bytes(body, body.remaining());
        try {
            out.send(new Authentication.SaslFinal(scram.clientFinal(clientFinal)).encode());
        } catch (AuthException e) {
            if (e.sqlState().equals("28P01")) {
                throw wrongPassword(user);
            }
            throw e;
        }
        return scram;
    }

    private static boolean hasScramSecret(UserLookup user) {
        return user instanceof UserLookup.Known k && k.user().auth() == AuthMethod.SCRAM_SHA_256;
    }

    private static String name(UserLookup user) {
        return switch (user) {
            case UserLookup.Known k -> k.user().name();
            case UserLookup.WithoutSecret w -> w.name();
            case UserLookup.Unknown u -> u.name();
        };
    }

    private static AuthException wrongPassword(String user) {
        return new AuthException("28P01", "password authentication failed for user \"" + user + "\"");
    }

    private Frame passwordMessage() throws IOException {
        Frame f = in.read(maxMessage);
        if (f.tag() != 'p') {
            throw new ProtocolException("expected password response, got message type '"
                    + printable(f.tag()) + "'");
        }
        return f;
    }

    private static String printable(byte b) {
        int c = b & 0xFF;
        return c >= 0x20 && c < 0x7F ? String.valueOf((char) c) : String.format("\\x%02x", c);
    }
}
