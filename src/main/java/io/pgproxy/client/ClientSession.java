package io.pgproxy.client;

import io.pgproxy.auth.AuthException;
import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendException;
import io.pgproxy.config.FailoverConfig;
import io.pgproxy.config.SessionIsolation;
import io.pgproxy.pool.Pool;
import io.pgproxy.pool.PoolExhaustedException;
import io.pgproxy.pool.RefusalReason;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket.StartupMessage;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.BackendKeyData;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.ParameterStatus;
import io.pgproxy.protocol.message.ReadyForQuery;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.ClientStatements;
import io.pgproxy.session.PinReason;
import io.pgproxy.session.SessionParameters;
import io.pgproxy.session.SessionTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import io.pgproxy.tls.ClientTls;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One client's whole life on its own virtual thread, written as one try/finally: startup
 * negotiation, login ({@link ClientLogin}), then the relay loop ({@link RequestRelay}); replies
 * come back on the backend's reader thread through {@link BackendLink}. This class owns the
 * client's {@link ClientState}: every change goes through {@link #moveTo}.
 *
 * <p>Session mode: the backend is leased at the client's first request, not at login, so idle
 * logged-in clients cost no backend; it is kept until the client leaves, then reset and
 * returned, or closed if its state is not clean.
 */
public final class ClientSession implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(ClientSession.class);
    private static final AtomicLong IDS = new AtomicLong();

    private final String id = "c" + IDS.incrementAndGet();
    private final ClientContext context;
    private final SocketChannel socket;
    /** What requests are read from: the socket, or the TLS channel over it after a handshake. */
    private ReadableByteChannel transport; // the client's own thread only
    private final ClientChannel out;
    private final long acceptedNanos = System.nanoTime();
    private final long connectedAtMillis = System.currentTimeMillis();
    private final AtomicReference<ClientState> state = new AtomicReference<>(ClientState.LOGGING_IN);
    /** Reads from the client, counting what arrives for its pool's stats. */
    private final ReadableByteChannel in = new ReadableByteChannel() {
        @Override
        public int read(ByteBuffer dst) throws IOException {
            int n = transport.read(dst);
            Pool p = pool;
            if (n > 0 && p != null) {
                p.stats().received(n);
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return socket.isOpen();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    };

    private int processId;
    private byte[] secretKey = new byte[0];
    private boolean admitted;
    private volatile Pool pool;
    private volatile SessionTracker tracker;
    private volatile StatementEditor editor;
    private volatile BackendLink link;
    private volatile RequestRelay relay;
    private volatile String user = "?";
    private volatile String database = "?";
    /** The client's TLS session, or null for a plaintext connection. */
    private volatile ClientTls tls;
    /** The virtual database (admin console) this client logged in to, or null. */
    private volatile VirtualDatabase console;
    /** A console client between commands: idle, since when (System.nanoTime). */
    private volatile boolean waitingForCommand;
    private volatile long commandWaitSinceNanos;

    public ClientSession(ClientContext context, SocketChannel socket) {
        this.context = context;
        this.socket = socket;
        this.transport = socket;
        this.out = new ClientChannel(socket);
    }

    public String id() {
        return id;
    }

    public ClientState state() {
        return state.get();
    }

    /**
     * The one way the session's state changes. Returns false once the session is closing (a
     * race with the janitor or a lost backend, settled by the caller doing nothing); any other
     * move the table in {@link ClientState} does not allow is a bug.
     */
    boolean moveTo(ClientState next) {
        while (true) {
            ClientState current = state.get();
            if (current == ClientState.CLOSING) {
                return false;
            }
            if (!current.canMoveTo(next)) {
                throw new IllegalStateException(id + ": illegal move from " + current + " to " + next);
            }
            if (state.compareAndSet(current, next)) {
                log.trace("{} {} -> {}", id, current, next);
                return true;
            }
        }
    }

    boolean closing() {
        return state.get() == ClientState.CLOSING;
    }

    public String user() {
        return user;
    }

    public String database() {
        return database;
    }

    /** The pool serving this client; null before login. */
    public Pool pool() {
        return pool;
    }

    /** The backend the client holds now, or null. */
    public BackendConnection backend() {
        BackendLink l = link;
        return l == null ? null : l.backend();
    }

    /** Why the session is pinned to its backend, or null. */
    public PinReason pinReason() {
        SessionTracker t = tracker;
        return t == null ? null : t.pinned();
    }

    /** When the client connected (epoch milliseconds). */
    public long connectedAtMillis() {
        return connectedAtMillis;
    }

    /** The client's address, or null when the socket is gone. */
    public java.net.SocketAddress remoteAddress() {
        try {
            return socket.getRemoteAddress();
        } catch (IOException e) {
            return null;
        }
    }

    /** The client's IP address, for the hba rules; null when the socket is gone. */
    private java.net.InetAddress remoteInetAddress() {
        return remoteAddress() instanceof java.net.InetSocketAddress a ? a.getAddress() : null;
    }

    /** The client's TLS session (version, cipher, certificate), or null for plaintext. */
    public ClientTls tls() {
        return tls;
    }

    /** The process id the client was given in BackendKeyData; 0 before login. */
    public int processId() {
        return processId;
    }

    /** When the client's last request went to a backend (System.nanoTime), or 0. */
    public long requestSentNanos() {
        BackendLink l = link;
        return l == null ? 0 : l.requestSentNanos();
    }

    /** When the client began waiting for a backend (System.nanoTime); meaningful while {@link #state()} is WAITING. */
    public long waitingSinceNanos() {
        BackendLink l = link;
        return l == null ? 0 : l.waitingSinceNanos();
    }

    /** The client's application_name as the server last reported it, else as it asked at startup; "" if none. */
    public String applicationName() {
        SessionTracker t = tracker;
        if (t == null) {
            return "";
        }
        SessionParameters.State s = t.parameters().state();
        String v = s.reported().get("application_name");
        return v != null ? v : s.requested().getOrDefault("application_name", "");
    }

    /** The named prepared statements the client holds (transaction pooling with the cache on). */
    public int preparedStatements() {
        StatementEditor e = editor;
        return e == null ? 0 : e.statements().size();
    }

    byte[] secretKey() {
        return secretKey;
    }

    @Override
    public void run() {
        try {
            StartupNegotiation.Negotiated negotiated = new StartupNegotiation(id, socket, out, context).run();
            if (negotiated == null) {
                return;
            }
            String certificateProblem = null;
            if (negotiated.tls() != null) {
                transport = negotiated.tls().channel();
                tls = negotiated.tls().info();
                certificateProblem = negotiated.tls().certificateProblem();
            }
            login(negotiated.startup(), certificateProblem);
            VirtualDatabase c = console;
            if (c != null) {
                c.run(new ConsoleSession(this, out, new MessageReader(in), c.maxMessageSize()));
            } else {
                relay.run();
            }
        } catch (ClientRefusedException e) {
            log.atLevel(e.reason().level()).log("{} refused ({}): {}{}", id, e.reason().description(), e.getMessage(),
                    e.logDetail());
            context.counters().refused(e.reason());
            fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
        } catch (ProtocolException e) {
            log.info("{} protocol violation: {}", id, e.getMessage());
            fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
        } catch (AuthException e) {
            log.info("{} authentication failed for user \"{}\": {}", id, user, e.getMessage());
            context.counters().refused(RefusalReason.AUTHENTICATION_FAILED);
            fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
        } catch (BackendException e) {
            log.warn("{} backend unavailable for {}@{}: {}", id, user, database, e.getMessage());
            fail(e.error().severity().equals("ERROR")
                    ? ErrorResponse.fatal(e.error().sqlState(), e.error().message()) : e.error());
        } catch (PoolExhaustedException e) {
            log.warn("{} refused ({}): {}", id, RefusalReason.WAIT_TIMEOUT.description(), e.getMessage());
            context.counters().refused(RefusalReason.WAIT_TIMEOUT);
            fail(ErrorResponse.fatal("53300", e.getMessage()));
        } catch (EOFException | ClosedChannelException e) {
            log.debug("{} client disconnected", id);
        } catch (IOException e) {
            log.debug("{} connection ended: {}", id, e.getMessage());
        } catch (RuntimeException e) {
            log.error("{} internal error", id, e);
            fail(ErrorResponse.fatal("XX000", "internal error in pgproxy"));
        } finally {
            end();
        }
    }

    private void login(StartupMessage startup, String certificateProblem) throws IOException, AuthException {
        ClientLogin login = new ClientLogin(id, startup);
        user = login.user();
        database = login.database();
        TlsRequirement.check(context.config().get(), database, user, tls, certificateProblem);
        VirtualDatabase virtual = context.console();
        if (virtual != null && virtual.serves(database)) {
            login.runForConsole(context, in, remoteInetAddress(), out, tls);
            greet(virtual.parameters());
            console = virtual;
            log.info("{} {}@{} logged in to the admin console", id, user, database);
            return;
        }
        ClientLogin.Route route = login.run(context, in, remoteInetAddress(), out, tls, () -> admitted = true);
        Pool p = route.pool();
        pool = p;
        if (route.tracked() && p.settings().maxPreparedStatements() > 0) {
            editor = new StatementEditor(new ClientStatements(context.statements()), p.preparedStatements(),
                    () -> p.settings().maxPreparedStatements(),
                    () -> context.config().get().limits().maxClientPreparedStatements(), bytes -> out.forward(bytes, true),
                    context.statements().clock());
        }
        tracker = new SessionTracker(route.parameters(), route.tracked(), route.statementMode(),
                () -> p.settings().sessionIsolation() == SessionIsolation.RESET);
        // Where the session's state is followed (transaction pooling, session pooling on a
        // cluster), so that a new backend can be brought to it first.
        boolean replay = route.tracked() && p.settings().transactionReplay();
        TransactionJournal journal = null;
        if (replay) {
            FailoverConfig f = context.config().get().failover();
            journal = new TransactionJournal(f.replayMaxBytes(), f.replayMaxStatements());
        }
        link = new BackendLink(this, p, tracker, editor, out, route.tracked(), route.transactionMode(), journal,
                () -> context.config().get().failover().replayTimeout());
        RequestScanner scanner = new RequestScanner(context.config().get().limits().maxMessageSize(),
                route.tracked(), editor != null, replay);
        relay = new RequestRelay(context, in, scanner, editor, link, this::closing);

        greet(route.greeting());
        // Debug, like the closing line: at info every login would pay for a formatted timestamp
        // and a write to stderr, which a client that connects per transaction pays every time.
        log.debug("{} {}@{} logged in", id, user, database);
    }

    /** Registers the client for cancel requests and sends AuthenticationOk, the parameters, its key and ReadyForQuery. */
    private void greet(java.util.Map<String, String> parameters) throws IOException {
        processId = context.registry().register(this);
        secretKey = context.registry().newSecret();
        ByteArrayOutputStream welcome = new ByteArrayOutputStream(512);
        welcome.writeBytes(new Authentication.Ok().encode());
        parameters.forEach((k, v) -> welcome.writeBytes(new ParameterStatus(k, v).encode()));
        welcome.writeBytes(new BackendKeyData(processId, secretKey).encode());
        welcome.writeBytes(new ReadyForQuery(TransactionStatus.IDLE).encode());
        moveTo(ClientState.IDLE);
        out.send(welcome.toByteArray());
    }

    /** A console client between commands is idle: idle timeouts and shutdown treat it so. */
    void waitingForCommand(boolean waiting) {
        if (waiting) {
            commandWaitSinceNanos = System.nanoTime();
        }
        waitingForCommand = waiting;
    }

    /** Forwards a cancel to the backend running this client's query; nothing if none. */
    void cancelBackend() {
        BackendLink l = link;
        if (l != null) {
            l.cancel();
        }
    }

    /** For the janitor: before authentication, past the startup deadline. */
    public boolean startupExpired(long nowNanos, Duration timeout) {
        return state.get() == ClientState.LOGGING_IN && nowNanos - acceptedNanos > timeout.toNanos();
    }

    /** For the janitor: idle between requests for longer than the timeout. */
    public boolean idleExpired(long nowNanos, Duration timeout) {
        if (timeout.isZero() || !isIdle()) {
            return false;
        }
        RequestRelay r = relay;
        long since = r != null ? r.parkedSinceNanos() : commandWaitSinceNanos;
        return nowNanos - since > timeout.toNanos();
    }

    /**
     * For the janitor: a request has run on the backend longer than the query timeout. Cancels
     * it once; the backend then answers the client with 57014 itself.
     */
    public void cancelIfRunningLongerThan(long nowNanos, Duration timeout) {
        BackendLink l = link;
        if (l != null) {
            l.cancelIfRunningLongerThan(nowNanos, timeout);
        }
    }

    /** For the janitor: waiting for the client inside an open transaction for longer than the timeout. */
    public boolean idleInTransactionExpired(long nowNanos, Duration timeout) {
        RequestRelay r = relay;
        BackendConnection b = backend();
        return !timeout.isZero() && r != null && r.readingHeader() && b != null && b.outstanding() == 0
                && b.status() != TransactionStatus.IDLE && nowNanos - r.parkedSinceNanos() > timeout.toNanos();
    }

    /** Between requests with no transaction open: may be closed without losing work. */
    public boolean isIdle() {
        if (console != null) {
            return waitingForCommand;
        }
        RequestRelay r = relay;
        if (r == null || state.get() == ClientState.LOGGING_IN) {
            return false;
        }
        BackendConnection b = backend();
        return r.readingHeader() && (b == null || b.readiness() == BackendConnection.Readiness.READY);
    }

    /** Ends the session from outside (janitor, shutdown) with a last message where possible. */
    public void terminate(ErrorResponse reason) {
        if (moveTo(ClientState.CLOSING)) {
            // Once per session: the janitor and a drain may both end it, but only one message reaches it.
            context.counters().errorSent(reason.sqlState());
        }
        out.sendQuietly(reason.encode());
        out.close();
    }

    /** Counts an error the proxy itself sends the client. */
    void errorSent(String sqlState) {
        context.counters().errorSent(sqlState);
    }

    /** Ends the session from the backend side (its backend was lost): the client's thread notices the closed socket. */
    void close() {
        moveTo(ClientState.CLOSING);
        out.close();
    }

    private void fail(ErrorResponse error) {
        context.counters().errorSent(error.sqlState());
        out.sendQuietly(error.encode());
    }

    private void end() {
        moveTo(ClientState.CLOSING);
        BackendLink l = link;
        if (l != null) {
            l.end();
        }
        if (processId != 0) {
            context.registry().remove(processId, this);
        }
        if (admitted) {
            context.registry().leave(database, user);
        }
        out.close();
        log.debug("{} closed", id);
    }
}
