package io.pgproxy.client;

import io.pgproxy.auth.AuthException;
import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendException;
import io.pgproxy.backend.BackendSink;
import io.pgproxy.backend.RequestRun;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.Limits;
import io.pgproxy.config.PoolMode;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;
import io.pgproxy.pool.Lease;
import io.pgproxy.pool.LeaseHolder;
import io.pgproxy.pool.Pool;
import io.pgproxy.pool.PoolExhaustedException;
import io.pgproxy.pool.RefusalReason;
import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket.StartupMessage;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.BackendKeyData;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.NegotiateProtocolVersion;
import io.pgproxy.protocol.message.ParameterStatus;
import io.pgproxy.protocol.message.ReadyForQuery;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.ClientStatements;
import io.pgproxy.session.ParameterValues;
import io.pgproxy.session.PinReason;
import io.pgproxy.session.SessionParameters;
import io.pgproxy.session.SessionTracker;
import io.pgproxy.session.StartupOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One client's whole life on its own virtual thread: startup negotiation, authentication,
 * routing, then the relay loop. Requests flow client → backend here, frame by frame; replies
 * flow back on the backend's reader thread through {@link #forward}.
 *
 * <p>Session mode: the backend is leased at the client's first request, not at login, so idle
 * logged-in clients cost no backend; it is kept until the client leaves, then reset and
 * returned, or closed if its state is not clean.
 */
public final class ClientSession implements Runnable, BackendSink, LeaseHolder {
    private static final Logger log = LoggerFactory.getLogger(ClientSession.class);
    private static final AtomicLong IDS = new AtomicLong();
    private static final Duration PARAMETER_SYNC_TIMEOUT = Duration.ofSeconds(10);

    private final String id = "c" + IDS.incrementAndGet();
    private final ClientContext context;
    private final SocketChannel channel;
    private final ClientChannel out;
    private final long acceptedNanos = System.nanoTime();
    private final long connectedAtMillis = System.currentTimeMillis();
    private final java.util.concurrent.atomic.AtomicReference<ClientState> state =
            new java.util.concurrent.atomic.AtomicReference<>(ClientState.LOGGING_IN);
    /** Reads from the client, counting what arrives for its pool's stats. */
    private final ReadableByteChannel in = new ReadableByteChannel() {
        @Override
        public int read(ByteBuffer dst) throws IOException {
            int n = channel.read(dst);
            if (n > 0 && pool != null) {
                pool.stats().received(n);
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    };
    /** When the transaction now running began; 0 between transactions. */
    private volatile long transactionStartNanos;

    private int processId;
    private byte[] secretKey = new byte[0];
    private volatile boolean authenticated;
    private boolean admitted;
    private volatile boolean readingHeader;
    private volatile long parkedSinceNanos;
    private volatile long requestSentNanos;
    private volatile boolean cancelSent;
    /** The lease the client holds now, or null; set only on this thread, cleared at a settle by the lease. */
    private volatile Lease lease;
    /** The backend this client last returned: asked for first, since it already holds the client's session. */
    private volatile BackendConnection lastBackend;
    private volatile boolean closing;
    private Pool pool;
    /** Renames named prepared statements; null in session mode or with the cache off. */
    private StatementEditor editor;
    private final Outbox outbox = new Outbox();
    private volatile boolean transactionMode;
    private volatile boolean statementMode;
    /** The session state followed across backends; set at login. */
    private SessionTracker tracker;
    private volatile String user = "?";
    private volatile String database = "?";

    public ClientSession(ClientContext context, SocketChannel channel) {
        this.context = context;
        this.channel = channel;
        this.out = new ClientChannel(channel);
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
    private boolean moveTo(ClientState next) {
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
        Lease l = lease;
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
            return channel.getRemoteAddress();
        } catch (IOException e) {
            return null;
        }
    }

    /** The process id the client was given in BackendKeyData; 0 before login. */
    public int processId() {
        return processId;
    }

    /** When the client's last request went to a backend (System.nanoTime), or 0. */
    public long requestSentNanos() {
        return requestSentNanos;
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
            StartupMessage startup = new StartupNegotiation(id, channel, out, context).run();
            if (startup == null) {
                return;
            }
            login(startup);
            relay();
        } catch (ClientRefusedException e) {
            log.atLevel(e.reason().level()).log("{} refused ({}): {}", id, e.reason().description(), e.getMessage());
            fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
        } catch (ProtocolException e) {
            log.info("{} protocol violation: {}", id, e.getMessage());
            fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
        } catch (AuthException e) {
            log.info("{} authentication failed for user \"{}\": {}", id, user, e.getMessage());
            fail(ErrorResponse.fatal(e.sqlState(), e.getMessage()));
        } catch (BackendException e) {
            log.warn("{} backend unavailable for {}@{}: {}", id, user, database, e.getMessage());
            fail(e.error().severity().equals("ERROR")
                    ? ErrorResponse.fatal(e.error().sqlState(), e.error().message()) : e.error());
        } catch (PoolExhaustedException e) {
            log.warn("{} refused ({}): {}", id, RefusalReason.WAIT_TIMEOUT.description(), e.getMessage());
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

    private void login(StartupMessage startup) throws IOException, AuthException {
        ProxyConfig config = context.config().get();
        Map<String, String> params = startup.parameters();
        user = params.getOrDefault("user", "");
        database = params.getOrDefault("database", user);
        if (user.isEmpty()) {
            throw new ProtocolException("28000", "no PostgreSQL user name specified in startup packet");
        }
        List<String> unrecognized = params.keySet().stream().filter(k -> k.startsWith("_pq_.")).toList();
        if (startup.minorVersion() > 0 || !unrecognized.isEmpty()) {
            out.send(new NegotiateProtocolVersion(0, unrecognized).encode());
        }
        if (params.containsKey("replication")) {
            throw new ClientRefusedException(RefusalReason.REPLICATION, "0A000", "replication connections are not supported by pgproxy");
        }
        Map<String, String> optionValues;
        try {
            optionValues = StartupOptions.parse(params.getOrDefault("options", ""));
        } catch (IllegalArgumentException e) {
            throw new ClientRefusedException(RefusalReason.STARTUP_PARAMETER, "0A000", "unsupported startup parameter options: " + e.getMessage());
        }
        DatabaseConfig db = config.databases().get(database);
        if (db == null) {
            throw new ClientRefusedException(RefusalReason.UNKNOWN_DATABASE, "3D000", "database \"" + database + "\" does not exist");
        }
        UserConfig userConfig = config.users().get(user);
        if (userConfig == null) {
            throw new ClientRefusedException(RefusalReason.UNKNOWN_USER, "28000", "role \"" + user + "\" is not allowed to connect through pgproxy");
        }
        log.debug("{} login {}@{}", id, user, database);
        new ClientAuthenticator(out, new MessageReader(channel), config.limits().maxStartupPacketSize())
                .authenticate(userConfig);
        context.registry().admit(database, user, config.limits().maxDbClients(), config.limits().maxUserClients());
        admitted = true;
        pool = context.leases().pool(db, user);
        // A user's own pool mode wins over the database's, as in PgBouncer.
        PoolMode mode = userConfig.mode() != null ? userConfig.mode() : db.mode();
        transactionMode = mode != PoolMode.SESSION;
        statementMode = mode == PoolMode.STATEMENT;
        if (transactionMode && pool.settings().maxPreparedStatements() > 0) {
            Pool p = pool;
            editor = new StatementEditor(new ClientStatements(context.statements()), p.preparedStatements(),
                    () -> p.settings().maxPreparedStatements(),
                    () -> context.config().get().limits().maxClientPreparedStatements(), bytes -> out.forward(bytes, true));
        }
        Map<String, String> server = pool.welcomeParameters();
        Map<String, String> requested = startupParameters(optionValues, params, server);
        SessionParameters parameters;
        try {
            parameters = new SessionParameters(requested);
        } catch (IllegalArgumentException e) {
            throw new ClientRefusedException(RefusalReason.STARTUP_PARAMETER, "55P02", e.getMessage());
        }
        tracker = new SessionTracker(parameters, transactionMode, statementMode);
        Map<String, String> greeting = parameters.greeting(server);

        processId = context.registry().register(this);
        secretKey = context.registry().newSecret();
        ByteArrayOutputStream welcome = new ByteArrayOutputStream(512);
        welcome.writeBytes(new Authentication.Ok().encode());
        greeting.forEach((k, v) -> welcome.writeBytes(new ParameterStatus(k, v).encode()));
        welcome.writeBytes(new BackendKeyData(processId, secretKey).encode());
        welcome.writeBytes(new ReadyForQuery(TransactionStatus.IDLE).encode());
        authenticated = true;
        moveTo(ClientState.IDLE);
        out.send(welcome.toByteArray());
        log.info("{} {}@{} logged in", id, user, database);
    }

    /**
     * As PostgreSQL applies them: the options first, then the startup packet's own parameters,
     * names in any case; a DateStyle in both is the second merged into the first.
     */
    private static Map<String, String> startupParameters(Map<String, String> options, Map<String, String> params,
                                                         Map<String, String> server) {
        Map<String, String> all = new java.util.LinkedHashMap<>(options);
        params.forEach((k, v) -> {
            String earlierKey = all.keySet().stream().filter(k::equalsIgnoreCase).findFirst().orElse(null);
            String value = v;
            if (earlierKey != null) {
                String earlier = all.remove(earlierKey);
                if (k.equalsIgnoreCase("DateStyle")) {
                    value = ParameterValues.normalise(k, v, ParameterValues.normalise(k, earlier, server.get("DateStyle")));
                }
            }
            all.put(k, value);
        });
        return all;
    }

    /** Client → backend, frame by frame, until Terminate or the client goes away. */
    private void relay() throws IOException {
        Limits limits = context.config().get().limits();
        RequestScanner scanner = new RequestScanner(limits.maxMessageSize(), transactionMode, editor != null);
        ByteBuffer request = context.requestBuffers().acquire();
        try {
            while (true) {
                request.clear();
                parkedSinceNanos = System.nanoTime();
                readingHeader = true;
                try {
                    if (!readAtLeastHeader(request)) {
                        return;
                    }
                } finally {
                    readingHeader = false;
                }
                if (closing) {
                    return;
                }
                // The scan rejects a hostile header before anything is sent or leased.
                request.flip();
                scanAndSend(scanner, request);
                if (scanner.stopped()) {
                    return;
                }
                if (scanner.atBoundary() && !request.hasRemaining()) {
                    // The common case: whole requests, read and sent with one system call each.
                    continue;
                }
                // A larger message, or more than fits: go on with a relay buffer.
                ByteBuffer buffer = context.buffers().acquire();
                try {
                    buffer.put(request);
                    if (!relayRun(scanner, buffer)) {
                        return;
                    }
                } finally {
                    context.buffers().release(buffer);
                }
            }
        } finally {
            context.requestBuffers().release(request);
        }
    }

    /** Blocks until a message header (and whatever else has arrived) is in {@code buffer}. */
    private boolean readAtLeastHeader(ByteBuffer buffer) throws IOException {
        while (buffer.position() < 5) {
            if (in.read(buffer) < 0) {
                if (buffer.position() > 0) {
                    throw new EOFException("client closed the connection inside a message header");
                }
                return false;
            }
        }
        return true;
    }

    /**
     * Relays messages from {@code buffer} (already holding a header) until the client's bytes end
     * exactly at a message boundary. Returns false when the client sent Terminate.
     */
    private boolean relayRun(RequestScanner scanner, ByteBuffer buffer) throws IOException {
        while (true) {
            buffer.flip();
            scanAndSend(scanner, buffer);
            if (scanner.stopped()) {
                return false;
            }
            buffer.compact();
            if (scanner.atBoundary() && buffer.position() == 0) {
                return true;
            }
            if (in.read(buffer) < 0) {
                throw new EOFException("client closed the connection inside a message");
            }
        }
    }

    /**
     * Sends what the scanner clears from {@code buffer}'s position on, and leaves the position
     * where the scan stopped. Messages naming prepared statements go through the editor, and
     * the edited run leaves in one gathering write.
     */
    private void scanAndSend(RequestScanner scanner, ByteBuffer buffer) throws IOException {
        // Only this thread leases, so a client without a backend stays without one until it does.
        scanner.quiet = lease == null;
        int start = buffer.position();
        int end = scanner.scan(buffer);
        if (!scanner.cutRequested()) {
            if (end > start) {
                BackendConnection b = claimBackend(scanner);
                int limit = buffer.limit();
                buffer.limit(end);
                b.send(buffer);
                buffer.limit(limit);
            }
            buffer.position(end);
            return;
        }
        BackendConnection b = null;
        try {
            while (true) {
                if (end > start) {
                    b = claimBackend(scanner);
                    outbox.add(buffer.slice(start, end - start));
                }
                buffer.position(end);
                if (!scanner.cutRequested()) {
                    break;
                }
                BackendConnection[] leased = {b};
                editor.edit(scanner, buffer, in, () -> {
                    // Marked before the claim, so the backend cannot be handed back meanwhile.
                    scanner.noteEdited();
                    scanner.quiet = false;
                    return leased[0] = claimBackend(scanner);
                }, outbox);
                b = leased[0];
                start = buffer.position();
                end = scanner.scan(buffer);
            }
            if (b != null) {
                outbox.flushTo(b);
            }
        } finally {
            outbox.clear();
        }
    }

    /**
     * The backend for the run about to be sent, leased now if the client holds none or its
     * lease ended at a settle. The lease records what the run owes under the lock its settle
     * takes, so a backend is never handed back while a request is on its way to it.
     */
    private BackendConnection claimBackend(RequestScanner scanner) throws IOException {
        RequestRun run = scanner.takeRun();
        Lease l = lease;
        if (l == null || !l.owe(run)) {
            l = lease();
            if (!l.owe(run)) {
                throw new IllegalStateException(id + " a new lease ended before its first request");
            }
        }
        if (run.readyForQueries() > 0) {
            long now = System.nanoTime();
            requestSentNanos = now;
            if (transactionStartNanos == 0) {
                transactionStartNanos = now;
            }
            cancelSent = false;
        }
        if (run.pin() != null || !run.sets().isEmpty() || !run.resets().isEmpty()) {
            carryOut(tracker.sent(run.pin(), run.sets(), run.resets()));
        }
        return l.backend();
    }

    private Lease lease() throws IOException {
        if (!moveTo(ClientState.WAITING)) {
            throw new ClosedChannelException();
        }
        Lease l;
        try {
            l = pool.acquire(lastBackend);
        } catch (IOException | RuntimeException e) {
            moveTo(ClientState.IDLE);
            throw e;
        }
        BackendConnection b = l.backend();
        try {
            syncParameters(b);
        } catch (IOException | RuntimeException e) {
            // Leased but never attached: closed, whatever state it is in.
            l.discard();
            moveTo(ClientState.IDLE);
            throw e;
        }
        l.attach(this, this);
        lease = l;
        if (!moveTo(ClientState.ACTIVE)) {
            // Closed while it waited: end() finds the backend and gives it back.
            throw new ClosedChannelException();
        }
        log.debug("{} leased {}", id, b.id());
        return l;
    }

    /**
     * Brings a backend to this client's session in at most one hidden round trip (the tracker
     * says what to run), and tells the client any value that came out differently than it was told.
     */
    private void syncParameters(BackendConnection b) throws IOException {
        SessionTracker.Sync sync = tracker.syncFor(b.session());
        if (sync == null) {
            return;
        }
        log.debug("{} parameters to set on {}{}: {}", id, b.id(), sync.reset() ? " after a reset" : "", sync.diff().keySet());
        if (sync.batch() != null) {
            ErrorResponse e = b.runInternal(sync.batch(), 1, PARAMETER_SYNC_TIMEOUT);
            if (e != null) {
                // A value the backend refuses (an unknown time zone, say): the caller discards it.
                throw new ProtocolException(e.sqlState(), e.message());
            }
        }
        tracker.synced(b.session(), sync);
        Map<String, String> corrections = tracker.corrections(b.session());
        if (!corrections.isEmpty()) {
            MessageBuilder m = new MessageBuilder();
            corrections.forEach((k, v) -> m.bytes(new ParameterStatus(k, v).encode()));
            out.send(m.toByteArray());
        }
    }

    /** Does what the tracker decided: pins counted and taken, backend state forgotten, statements dropped, a block refused. */
    private void carryOut(SessionTracker.Decision d) {
        if (d == SessionTracker.Decision.NONE) {
            return;
        }
        d.pins().forEach(pool.stats()::pinned);
        if (d.pinnedNow()) {
            moveTo(ClientState.PINNED);
            log.info("{} pinned to its backend: {}", id, tracker.pinned());
        }
        BackendConnection b = backend();
        if (d.dropStatements() && editor != null) {
            // The backend dropped every prepared statement, other clients' too; the client's
            // own names are gone, as on a direct connection. Only those defined before this
            // statement: the client may have pipelined new ones after it.
            long before = b != null ? b.replies().headStamp() : Long.MAX_VALUE;
            editor.statements().clearBefore(before);
            if (b != null) {
                b.statements().clearBefore(before);
            }
        }
        if (d.forgetBackend() && b != null) {
            b.session().forget();
        }
        if (d.refuseBlock() && !closing) {
            // As PgBouncer does: a transaction block would hold the backend past the statement.
            log.info("{} opened a transaction block in statement pooling mode, closing", id);
            terminate(ErrorResponse.fatal("0A000", "transaction blocks are not allowed in statement pooling mode")
                    .withHint("use transaction or session pooling for this client"));
        }
    }

    @Override
    public void forward(ByteBuffer run, boolean atBoundary) throws IOException {
        pool.stats().sent(run.remaining());
        out.forward(run, atBoundary);
    }

    @Override
    public void parameterStatus(String name, String value) {
        tracker.onParameterStatus(name, value);
    }

    @Override
    public boolean tracksReplies() {
        return editor != null;
    }

    @Override
    public boolean watchesCommands() {
        return transactionMode;
    }

    @Override
    public void commandComplete(String tag) {
        carryOut(tracker.onCommandComplete(tag));
    }

    @Override
    public boolean repairPending() {
        return tracker.repairPending();
    }

    /** The client's startup values for what a RESET took to the backend's defaults, as a hidden batch. */
    @Override
    public ByteBuffer repairBeforeReady(TransactionStatus status) {
        ByteBuffer batch = tracker.repairBatch(status);
        if (batch != null) {
            log.debug("{} giving {} back its startup values", id, lease != null ? lease.backend().id() : "?");
        }
        return batch;
    }

    @Override
    public void repaired(Map<String, String> reported) {
        tracker.repaired(reported);
        MessageBuilder m = new MessageBuilder();
        reported.forEach((k, v) -> m.bytes(new ParameterStatus(k, v).encode()));
        if (!reported.isEmpty()) {
            try {
                out.forward(ByteBuffer.wrap(m.toByteArray()), true);
            } catch (IOException e) {
                log.debug("{} client write failed: {}", id, e.getMessage());
            }
        }
    }

    @Override
    public void errorResponse() {
        tracker.onError();
    }

    /**
     * Decisions that must precede the client's next request: statement pooling refuses
     * transaction blocks, and what was sent so far pins or not. Decided at settle, after the
     * ReadyForQuery was relayed, a client could already have sent its next statement, and with
     * a reply owed the backend would not settle.
     */
    @Override
    public void readyForQuery(TransactionStatus status, boolean answeredAll) {
        long now = System.nanoTime();
        pool.stats().query((now - requestSentNanos) / 1000);
        long began = transactionStartNanos;
        if (status == TransactionStatus.IDLE && answeredAll && began != 0) {
            transactionStartNanos = 0;
            pool.stats().transaction((now - began) / 1000);
        }
        BackendConnection b = backend();
        carryOut(tracker.onReadyForQuery(status, answeredAll, b != null ? b.session() : null));
    }

    /**
     * Whether transaction pooling may hand the backend back at this settle. A pinned session
     * whose pins are all gone (DISCARD ALL, DEALLOCATE ALL) is unpinned here first.
     */
    @Override
    public boolean mayReturnAtSettle() {
        if (!transactionMode) {
            return false;
        }
        Lease l = lease;
        if (l != null && tracker.unpinIfFree(l.backend().status())) {
            // DISCARD ALL or DEALLOCATE ALL removed what tied the session to this backend.
            log.info("{} unpinned: nothing ties it to its backend any more", id);
            moveTo(ClientState.ACTIVE);
            pool.stats().unpinned();
        }
        return tracker.pinned() == null && !closing;
    }

    /** The lease ended at a settle: the backend holds exactly this client's changes, so it is asked for first next time. */
    @Override
    public void returned(Lease ended) {
        BackendConnection b = ended.backend();
        tracker.left(b.session());
        lastBackend = b;
        lease = null;
        moveTo(ClientState.IDLE);
        log.trace("{} returned {}", id, b.id());
    }

    @Override
    public void backendLost(BackendConnection lost, ErrorResponse fatal) {
        if (backend() != lost) {
            return;
        }
        log.warn("{} backend {} lost", id, lost.id());
        if (fatal == null) {
            out.sendQuietly(ErrorResponse.fatal("08006",
                    "server connection lost; the session cannot continue").encode());
        }
        closing = true;
        moveTo(ClientState.CLOSING);
        out.close();
    }

    /** Forwards a cancel to the backend running this client's query; nothing if none. */
    void cancelBackend() {
        BackendConnection b = backend();
        if (b != null) {
            b.cancel();
        }
    }

    /** For the janitor: before authentication, past the startup deadline. */
    public boolean startupExpired(long nowNanos, Duration timeout) {
        return !authenticated && nowNanos - acceptedNanos > timeout.toNanos();
    }

    /** For the janitor: idle between requests for longer than the timeout. */
    public boolean idleExpired(long nowNanos, Duration timeout) {
        return !timeout.isZero() && isIdle() && nowNanos - parkedSinceNanos > timeout.toNanos();
    }

    /**
     * For the janitor: a request has run on the backend longer than the query timeout. Cancels
     * it once; the backend then answers the client with 57014 itself.
     */
    public void cancelIfRunningLongerThan(long nowNanos, Duration timeout) {
        BackendConnection b = backend();
        if (!timeout.isZero() && b != null && !cancelSent && b.outstanding() > 0
                && nowNanos - requestSentNanos > timeout.toNanos()) {
            cancelSent = true;
            log.info("{} query timeout ({} ms): cancelling on {}", id, timeout.toMillis(), b.id());
            Thread.ofVirtual().name("pgproxy-cancel-" + id).start(b::cancel);
        }
    }

    /** For the janitor: waiting for the client inside an open transaction for longer than the timeout. */
    public boolean idleInTransactionExpired(long nowNanos, Duration timeout) {
        BackendConnection b = backend();
        return !timeout.isZero() && readingHeader && b != null && b.outstanding() == 0
                && b.status() != TransactionStatus.IDLE && nowNanos - parkedSinceNanos > timeout.toNanos();
    }

    /** Between requests with no transaction open: may be closed without losing work. */
    public boolean isIdle() {
        if (!authenticated) {
            return false;
        }
        BackendConnection b = backend();
        return readingHeader && (b == null || b.readiness() == BackendConnection.Readiness.READY);
    }

    public boolean isAuthenticated() {
        return authenticated;
    }

    /** Ends the session from outside (janitor, shutdown) with a last message where possible. */
    public void terminate(ErrorResponse reason) {
        closing = true;
        moveTo(ClientState.CLOSING);
        out.sendQuietly(reason.encode());
        out.close();
    }

    private void fail(ErrorResponse error) {
        out.sendQuietly(error.encode());
    }

    private void end() {
        closing = true;
        moveTo(ClientState.CLOSING);
        Lease l = lease;
        lease = null;
        if (l != null) {
            // A lease that ended at a settle meanwhile ignores this.
            if (l.backend().isClosed()) {
                l.discard();
            } else {
                l.release();
            }
        }
        if (processId != 0) {
            context.registry().remove(processId, this);
        }
        if (editor != null) {
            editor.statements().clear();
        }
        if (admitted) {
            context.registry().leave(database, user);
        }
        out.close();
        log.debug("{} closed", id);
    }
}
