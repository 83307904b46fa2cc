package io.pgproxy.backend;

import io.pgproxy.config.SslMode;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.tls.BackendTlsContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLSession;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;

/**
 * Opens a backend connection on the caller's thread: TCP connect, TLS as the database's sslmode
 * says, startup and authentication, each attempt bounded by the target's connect timeout. As in
 * libpq, sslmode allow logs in without TLS first and prefer with TLS first, and each tries the
 * other way once when the backend refuses the login. The connection's states move from
 * connecting through logging in to idle here, and nowhere else.
 */
public final class BackendConnector {
    private static final Logger log = LoggerFactory.getLogger(BackendConnector.class);

    private BackendConnector() {
    }

    /**
     * Connects and logs in {@code c} (created in {@link BackendState#CONNECTING}), then starts
     * its reader. On failure the connection is closed and the error says why.
     */
    public static void connect(BackendConnection c) throws BackendException {
        Opened opened;
        try {
            opened = open(c.target(), c.id(), () -> {
                if (c.state() == BackendState.CONNECTING && !c.moveTo(BackendState.LOGGING_IN)) {
                    throw new ClosedChannelException();
                }
            }, c::isClosed);
        } catch (BackendException e) {
            c.close();
            throw e;
        }
        c.loggedIn(opened.socket, opened.startup);
    }

    /**
     * A logged-in backend connection of its own, outside any pool, for a caller that speaks the
     * protocol on it itself (the auth query): the same TCP connect, sslmode, TLS handshake,
     * require-auth and credentials as a pool's connections, bounded by the target's connect
     * timeout. The caller closes it.
     */
    public static ByteChannel openStandalone(BackendTarget target, String id) throws BackendException {
        return open(target, id, () -> { }, () -> false).socket;
    }

    /** What a login leaves: the connection and what the backend reported. */
    private record Opened(BackendSocket socket, BackendStartup.Result startup) {
    }

    /** Something to do once the TCP connection is up, before the login; may refuse with ClosedChannelException. */
    private interface BeforeLogin {
        void run() throws IOException;
    }

    /** Connects with the sslmode's first choice and, where libpq would (allow, prefer), once more the other way. */
    private static Opened open(BackendTarget target, String id, BeforeLogin beforeLogin,
                               java.util.function.BooleanSupplier abandoned) throws BackendException {
        BackendTlsContext tls = target.tls().get();
        SslMode mode = tls.settings().mode();
        boolean tlsFirst = mode != SslMode.DISABLE && mode != SslMode.ALLOW;
        Attempt first = new Attempt(id, target, tls, tlsFirst, beforeLogin);
        try {
            return first.run();
        } catch (BackendException e) {
            boolean retry = e.refusedLogin() && (mode == SslMode.ALLOW || (mode == SslMode.PREFER && first.usedTls));
            if (!retry || abandoned.getAsBoolean()) {
                throw e;
            }
            log.debug("{} backend {} refused the login {}; trying {} (sslmode {})", id, target,
                    tlsFirst ? "over TLS" : "without TLS", tlsFirst ? "without TLS" : "TLS", mode.libpqName());
            return new Attempt(id, target, tls, !tlsFirst, beforeLogin).run();
        }
    }

    /** One TCP connection and login, with or without TLS. */
    private static final class Attempt {
        private final String id;
        private final BackendTarget target;
        private final BackendTlsContext tls;
        private final boolean wantTls;
        private final BeforeLogin beforeLogin;
        boolean usedTls;

        Attempt(String id, BackendTarget target, BackendTlsContext tls, boolean wantTls, BeforeLogin beforeLogin) {
            this.id = id;
            this.target = target;
            this.tls = tls;
            this.wantTls = wantTls;
            this.beforeLogin = beforeLogin;
        }

        Opened run() throws BackendException {
            SocketChannel raw = null;
            try {
                raw = SocketChannel.open();
                raw.setOption(StandardSocketOptions.TCP_NODELAY, true);
                raw.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
                raw.socket().connect(new InetSocketAddress(target.host(), target.port()),
                        (int) Math.min(Integer.MAX_VALUE, target.connectTimeout().toMillis()));
            } catch (IOException e) {
                BackendConnection.closeQuietly(raw);
                throw new BackendException(ErrorResponse.error("08001",
                        "could not connect to backend " + target.host() + ":" + target.port() + ": " + e.getMessage()), e);
            }
            // The connect timeout bounds the whole login, TLS handshake included.
            ConnectDeadline deadline = ConnectDeadline.start(raw, target.connectTimeout());
            BackendSocket socket = null;
            try {
                beforeLogin.run();
                socket = open(raw);
                BackendStartup.Result startup = BackendStartup.run(socket, target);
                deadline.close();
                log.debug("{} connected to {} ({}; backend pid {})", id, target, describe(socket),
                        startup.keyData().processId());
                return new Opened(socket, startup);
            } catch (BackendException e) {
                closeBoth(socket, raw);
                throw e;
            } catch (IOException e) {
                closeBoth(socket, raw);
                String reason = e instanceof ClosedChannelException
                        ? "no answer within " + target.connectTimeout().toMillis() + " ms" : e.getMessage();
                throw new BackendException(ErrorResponse.error("08001",
                        "backend " + target.host() + ":" + target.port() + " failed during startup: " + reason), e);
            } finally {
                deadline.close();
            }
        }

        private BackendSocket open(SocketChannel raw) throws IOException {
            if (!wantTls) {
                return BackendSocket.plain(raw);
            }
            BackendSocket s = BackendTlsHandshake.start(raw, target, tls);
            if (s != null) {
                usedTls = true;
                return s;
            }
            if (tls.settings().mode() == SslMode.PREFER) {
                return BackendSocket.plain(raw);
            }
            throw new BackendException(ErrorResponse.error("08001", "backend " + target.host() + ":" + target.port()
                    + " does not support TLS, but sslmode " + tls.settings().mode().libpqName() + " requires it"), null);
        }

        private static void closeBoth(BackendSocket socket, SocketChannel raw) {
            BackendConnection.closeQuietly(socket);
            BackendConnection.closeQuietly(raw);
        }

        private static String describe(BackendSocket socket) {
            SSLSession s = socket.tlsSession();
            return s == null ? "plaintext" : s.getProtocol() + "/" + s.getCipherSuite();
        }
    }
}
