package io.pgproxy.backend;

import io.pgproxy.auth.AuthException;
import io.pgproxy.auth.Md5Password;
import io.pgproxy.auth.ScramClientSession;
import io.pgproxy.config.RequireAuth;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.PasswordMessage;
import io.pgproxy.protocol.message.SaslInitialResponse;
import io.pgproxy.protocol.message.SaslResponse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Answers a backend's authentication requests for one login: first checks the method against the
 * database's require-auth (libpq's require_auth), then answers with the user's credentials: a
 * password, an md5 hash, or SCRAM with a password or passthrough keys, bound to the TLS channel
 * (SCRAM-SHA-256-PLUS) when there is one. A refusal here happens before any secret leaves.
 */
final class BackendAuthenticator {
    private static final String SCRAM = "SCRAM-SHA-256";
    private static final String SCRAM_PLUS = "SCRAM-SHA-256-PLUS";
    /** libpq's SQLSTATE for a connection it gives up itself: the backend did not refuse us. */
    private static final String REFUSED = "08001";

    private final BackendTarget target;
    private final BackendSocket socket;
    private final BackendCredentials credentials;
    private ScramClientSession scram;
    private boolean challenged;

    BackendAuthenticator(BackendTarget target, BackendSocket socket) {
        this.target = target;
        this.socket = socket;
        this.credentials = target.credentials().get();
    }

    /** Answers {@code request}; returns true when it was AuthenticationOk. */
    boolean answer(Authentication request) throws IOException {
        try {
            switch (request) {
                case Authentication.Ok ok -> {
                    finish();
                    return true;
                }
                case Authentication.CleartextPassword c -> {
                    require(RequireAuth.Method.PASSWORD, "a cleartext password");
                    write(new PasswordMessage(password("a cleartext password")).encode());
                }
                case Authentication.Md5Password md5 -> {
                    require(RequireAuth.Method.MD5, "an md5 password");
                    write(new PasswordMessage(Md5Password.response(md5Hash(), md5.salt())).encode());
                }
                case Authentication.Sasl sasl -> startScram(sasl.mechanisms());
                case Authentication.SaslContinue cont -> write(new SaslResponse(scram().serverFirst(cont.data())).encode());
                case Authentication.SaslFinal fin -> scram().serverFinal(fin.data());
                case Authentication.Unsupported u -> throw refused("backend asks for unsupported authentication method " + u.code());
            }
            return false;
        } catch (AuthException e) {
            throw new BackendException(ErrorResponse.error(e.sqlState(), "backend authentication failed for "
                    + target + ": " + e.getMessage()), e);
        }
    }

    private void startScram(List<String> mechanisms) throws IOException {
        require(RequireAuth.Method.SCRAM_SHA_256, "SASL authentication");
        boolean plus = socket.isTls() && mechanisms.contains(SCRAM_PLUS);
        if (!plus && !mechanisms.contains(SCRAM)) {
            throw refused("backend offers no supported SASL mechanism " + mechanisms);
        }
        if (credentials.password() == null && credentials.scramKeys() == null) {
            throw refused("backend asks for SCRAM but pgproxy has no password for " + target.user()
                    + " (database password or users." + target.user() + ".backend-password) and no SCRAM passthrough keys"
                    + " (they come with the user's SCRAM login to pgproxy against the verifier the backend holds)");
        }
        BackendAuthLimits limits = target.limits();
        scram = ScramClientSession.forBackend(credentials.password(), credentials.password() == null ? credentials.scramKeys() : null,
                limits.maxScramIterations(), limits.maxScramNonceLength(), socket.isTls(),
                plus ? socket.serverEndPoint() : null);
        write(new SaslInitialResponse(scram.mechanism(), scram.clientFirstMessage()).encode());
    }

    /**
     * AuthenticationOk: without any challenge only if "none" is allowed, and after SCRAM only once
     * the backend proved it knows the verifier (a server that skips its final message could be
     * anyone).
     */
    private void finish() throws BackendException {
        if (!challenged && !target.requireAuth().allows(RequireAuth.Method.NONE, socket.isTls())) {
            throw refused(requirement() + " failed: server did not complete authentication");
        }
        if (scram != null && !scram.completed()) {
            throw refused("backend ended SCRAM authentication without proving it knows the password");
        }
    }

    private void require(RequireAuth.Method method, String what) throws BackendException {
        if (challenged && method != RequireAuth.Method.SCRAM_SHA_256) {
            throw refused("backend asks for a second authentication");
        }
        challenged = true;
        if (!target.requireAuth().allows(method, socket.isTls())) {
            throw refused(requirement() + " failed: server requested " + what + (target.requireAuth() == RequireAuth.BY_TLS
                    ? " without TLS (set the database's require-auth, or use sslmode require or stricter)" : ""));
        }
    }

    private String requirement() {
        return "authentication method requirement \"" + target.requireAuth().describe() + "\" of " + target;
    }

    private String password(String what) throws BackendException {
        if (credentials.password() == null) {
            throw refused("backend asks for " + what + " but pgproxy has " + credentials.describe() + " for "
                    + target + " (set the database's password or users." + target.user() + ".backend-password)");
        }
        return credentials.password();
    }

    private String md5Hash() throws BackendException {
        if (credentials.password() != null) {
            return Md5Password.hash(target.user(), credentials.password());
        }
        if (credentials.md5Hash() != null) {
            // PgBouncer's auth_file way: the stored hash stands in for the password.
            return credentials.md5Hash();
        }
        return password("an md5 password");
    }

    private ScramClientSession scram() throws ProtocolException {
        if (scram == null) {
            throw new ProtocolException("backend sent a SASL message out of order");
        }
        return scram;
    }

    private static BackendException refused(String message) {
        return new BackendException(ErrorResponse.error(REFUSED, message), null);
    }

    private void write(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            socket.write(b);
        }
    }
}
