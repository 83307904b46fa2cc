package io.pgproxy.client;

import io.pgproxy.auth.AuthException;
import io.pgproxy.auth.Md5Password;
import io.pgproxy.auth.ScramKeys;
import io.pgproxy.auth.ScramServerSession;
import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.config.UserConfig;
import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.PasswordMessage;
import io.pgproxy.protocol.message.SaslInitialResponse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.List;
import java.util.function.Supplier;

/**
 * The proxy authenticating a client against its own user list: SCRAM-SHA-256, md5 or trust.
 * Every client message here is read with a small length limit and must be a password-type
 * message; anything else (a second StartupMessage, garbage) is a protocol violation.
 */
final class ClientAuthenticator {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SCRAM = "SCRAM-SHA-256";

    private final ClientChannel out;
    private final MessageReader in;
    private final int maxMessage;
    /** A SCRAM login's passthrough keys, once its proof was verified. */
    private ScramKeys scramKeys;

    ClientAuthenticator(ClientChannel out, MessageReader in, int maxMessage) {
        this.out = out;
        this.in = in;
        this.maxMessage = maxMessage;
    }

    /** @param verifier the user's parsed SCRAM verifier, asked for only when the user logs in with SCRAM */
    void authenticate(UserConfig user, Supplier<ScramVerifier> verifier) throws IOException, AuthException {
        switch (user.auth()) {
            case TRUST -> {
            }
            case MD5 -> md5(user);
            case SCRAM_SHA_256 -> scram(user, verifier.get());
        }
    }

    /**
     * A user the proxy does not know gets what a known SCRAM user gets, as from PostgreSQL: a
     * challenge with a salt stable for its name, then 28P01 at the proof. Always throws.
     */
    void scramForUnknownUser(String user) throws IOException, AuthException {
        exchange(user, ScramServerSession.forUnknownUser(user));
        throw new AuthException("28P01", "password authentication failed for user \"" + user + "\"");
    }

    private void md5(UserConfig user) throws IOException, AuthException {
        byte[] salt = new byte[4];
        RANDOM.nextBytes(salt);
        out.send(new Authentication.Md5Password(salt).encode());
        PasswordMessage p = PasswordMessage.decode(passwordMessage().body());
        if (!Md5Password.verify(user.secret(), salt, p.password())) {
            throw new AuthException("28P01", "password authentication failed for user \"" + user.name() + "\"");
        }
    }

    private void scram(UserConfig user, ScramVerifier verifier) throws IOException, AuthException {
        ScramServerSession session = new ScramServerSession(verifier);
        exchange(user.name(), session);
        scramKeys = session.keys();
    }

    /** What a successful SCRAM login revealed for SCRAM passthrough to backends, else null. */
    ScramKeys scramKeys() {
        return scramKeys;
    }

    private void exchange(String user, ScramServerSession scram) throws IOException, AuthException {
        out.send(new Authentication.Sasl(List.of(SCRAM)).encode());
        SaslInitialResponse initial = SaslInitialResponse.decode(passwordMessage().body());
        if (!initial.mechanism().equals(SCRAM)) {
            throw new AuthException("08P01", "client selected an invalid SASL authentication mechanism");
        }
        out.send(new Authentication.SaslContinue(scram.clientFirst(initial.data())).encode());
        ByteBuffer body = passwordMessage().body();
        byte[] clientFinal = Wire.bytes(body, body.remaining());
        try {
            out.send(new Authentication.SaslFinal(scram.clientFinal(clientFinal)).encode());
        } catch (AuthException e) {
            if (e.sqlState().equals("28P01")) {
                throw new AuthException("28P01", "password authentication failed for user \"" + user + "\"");
            }
            throw e;
        }
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
