package io.pgproxy.client;

import io.pgproxy.auth.AuthException;
import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendException;
import io.pgproxy.backend.BackendSink;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.Limits;
import io.pgproxy.config.PoolMode;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;
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
import io.pgproxy.session.PinDetector;
import io.pgproxy.session.ParameterValues;
import io.pgproxy.session.PinReason;
import io.pgproxy.session.SessionParameters;
import io.pgproxy.session.SetStatement;
import io.pgproxy.session.SetTracker;
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
import java.util.concurrent.locks.ReentrantLock;

/**
 * One client's whole life on its own virtual thread: startup negotiation, authentication,
 * routing, then the relay loop. Requests flow client → backend here, frame by frame; replies
 * flow back on the backend's reader thread through {@link #forward}.
 *
 * <p>Session mode: the backend is leased at the client's first request, not at login, so idle
 * logged-in clients cost no backend; it is kept until the client leaves, then reset and
 * returned, or closed if its state is not clean.
 */
public final class ClientSession implements Runnable, BackendSink {
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
    private volatile BackendConnection backend;
    /** The backend this client last returned: asked for first, since it already holds the client's session. */
    private volatile BackendConnection lastBackend;
    private volatile boolean closing;
    private final ReentrantLock leaseLock = new ReentrantLock();
    private final PinDetector pins = new PinDetector();
    /** Recognised SETs and RESETs from statement text to the commit that makes them last. */
    private final SetTracker setTracker = new SetTracker();
    /**
     * Parameters (lower case) set by tracked plain SETs since the backend last settled: their
     * ParameterStatus answers those SETs, so it must not vouch for an untracked one.
     */
    private final java.util.Set<String> trackedSince = new java.util.HashSet<>();
    private Pool pool;
    /** Renames named prepared statements; null in session mode or with the cache off. */
    private StatementEditor editor;
    private final Outbox outbox = new Outbox();
    private volatile boolean transactionMode;
    private volatile boolean statementMode;
    private volatile PinReason pinned;
    private SessionParameters parameters;
    private volatile String user = "?";
    private volatile String database = "?";
    /** When the client last asked its pool for a backend (System.nanoTime): SHOW CLIENTS' wait. */
    private volatile long waitingSinceNanos;
    /** The virtual database (admin console) this client logged in to, or null. */
    private VirtualDatabase console;

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
        return backend;
    }

    /** Why the session is pinned to its backend, or null. */
    public PinReason pinReason() {
        return pinned;
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

    /** When the client began waiting for a backend (System.nanoTime); meaningful while {@link #state()} is WAITING. */
    public long waitingSinceNanos() {
        return waitingSinceNanos;
    }

    /** The client's application_name as the server last reported it, else as it asked at startup; "" if none. */
    public String applicationName() {
        SessionParameters p = parameters;
        if (p == null) {
            return "";
        }
        SessionParameters.State s = p.state();
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
            StartupMessage startup = new StartupNegotiation(id, channel, out, context).run();
            if (startup == null) {
                return;
            }
            login(startup);
            if (console != null) {
                console.run(new ConsoleSession(this, out, new MessageReader(channel), console.maxMessageSize()));
            } else {
                relay();
            }
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
        VirtualDatabase virtual = context.console();
        if (virtual != null && virtual.serves(database)) {
            consoleLogin(config, virtual);
            return;
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
        try {
            parameters = new SessionParameters(requested);
        } catch (IllegalArgumentException e) {
            throw new ClientRefusedException(RefusalReason.STARTUP_PARAMETER, "55P02", e.getMessage());
        }
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
     * Authenticates a client of the admin console like any user and greets it; it then holds no
     * pool and counts against no per-database limit. Its role is checked per command.
     */
    private void consoleLogin(ProxyConfig config, VirtualDatabase virtual) throws IOException, AuthException {
        UserConfig userConfig = config.users().get(user);
        if (userConfig == null) {
            throw new ClientRefusedException(RefusalReason.UNKNOWN_USER, "28000", "role \"" + user + "\" is not allowed to connect through pgproxy");
        }
        new ClientAuthenticator(out, new MessageReader(channel), config.limits().maxStartupPacketSize())
                .authenticate(userConfig);
        processId = context.registry().register(this);
        secretKey = context.registry().newSecret();
        ByteArrayOutputStream welcome = new ByteArrayOutputStream(256);
        welcome.writeBytes(new Authentication.Ok().encode());
        virtual.parameters().forEach((k, v) -> welcome.writeBytes(new ParameterStatus(k, v).encode()));
        welcome.writeBytes(new BackendKeyData(processId, secretKey).encode());
        welcome.writeBytes(new ReadyForQuery(TransactionStatus.IDLE).encode());
        authenticated = true;
        console = virtual;
        moveTo(ClientState.IDLE);
        out.send(welcome.toByteArray());
        log.info("{} {}@{} logged in to the admin console", id, user, database);
    }

    /** A console client between commands is idle: idle timeouts and shutdown treat it so. */
    void waitingForCommand(boolean waiting) {
        if (waiting) {
            parkedSinceNanos = System.nanoTime();
        }
        readingHeader = waiting;
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
        scanner.quiet = backend == null;
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
     * The backend for the run about to be sent, leased now if the client holds none. What the
     * run makes the backend owe is recorded under the same lock the release decision takes, so
     * a backend is never handed back while a request is on its way to it.
     */
    private BackendConnection claimBackend(RequestScanner scanner) throws IOException {
        leaseLock.lock();
        try {
            BackendConnection b = backend;
            if (b == null) {
                b = lease();
            }
            if (scanner.owed > 0) {
                b.expectReadyForQuery(scanner.owed);
                scanner.owed = 0;
                long now = System.nanoTime();
                requestSentNanos = now;
                if (transactionStartNanos == 0) {
                    transactionStartNanos = now;
                }
                cancelSent = false;
            }
            if (scanner.sawRequest) {
                b.pendingSinceSync(scanner.pendingAfter);
                scanner.sawRequest = false;
            }
            if (scanner.mayDeallocate) {
                b.replies().expectDeallocation();
                scanner.mayDeallocate = false;
            }
            if (scanner.kindCount > 0) {
                b.replies().expectAll(scanner.kinds, scanner.kindCount, scanner.deallocatingKind);
                scanner.kindCount = 0;
                scanner.deallocatingKind = -1;
            }
            if (scanner.pin != null) {
                pin(scanner.pin);
                scanner.pin = null;
            }
            while (!scanner.sets.isEmpty()) {
                setTracker.sent(scanner.sets.poll());
            }
            while (!scanner.resets.isEmpty()) {
                setTracker.sent(scanner.resets.poll());
            }
            return b;
        } finally {
            leaseLock.unlock();
        }
    }

    private BackendConnection lease() throws IOException {
        waitingSinceNanos = System.nanoTime();
        if (!moveTo(ClientState.WAITING)) {
            throw new ClosedChannelException();
        }
        BackendConnection b;
        try {
            b = pool.acquire(lastBackend);
        } catch (IOException | RuntimeException e) {
            moveTo(ClientState.IDLE);
            throw e;
        }
        try {
            syncParameters(b);
        } catch (IOException | RuntimeException e) {
            // Leased but never attached: hand back its permit whatever state it is in.
            pool.discard(b);
            moveTo(ClientState.IDLE);
            throw e;
        }
        b.attach(this);
        backend = b;
        if (!moveTo(ClientState.ACTIVE)) {
            // Closed while it waited: end() finds the backend and gives it back.
            throw new ClosedChannelException();
        }
        log.debug("{} leased {}", id, b.id());
        return b;
    }

    /**
     * Brings a backend to this client's session in at most one hidden round trip. A backend
     * that carries another client's session is first taken back to its login state, since no
     * protocol signal reveals everything a client can change (a function's set_config, a SET
     * ROLE); then only the values that differ are set, and the client is told any value that
     * came out differently than it was told.
     */
    private void syncParameters(BackendConnection b) throws IOException {
        Object owner = b.owner();
        boolean reset = owner != null && owner != parameters;
        if (!reset && parameters.state().sameAs((SessionParameters.State) b.appliedState())) {
            b.owner(parameters);
            return;
        }
        Map<String, String> diff = reset ? parameters.diff(b.baselineParameters(), Map.of())
                : parameters.diff(b.parameters(), b.assumedParameters());
        log.debug("{} parameters to set on {}{}: {}", id, b.id(), reset ? " after a reset" : "", diff.keySet());
        if (reset || !diff.isEmpty()) {
            ErrorResponse e = b.runInternal(SessionParameters.setBatch(diff, reset), 1, PARAMETER_SYNC_TIMEOUT);
            if (e != null) {
                // A value the backend refuses (an unknown time zone, say): the caller discards it.
                throw new ProtocolException(e.sqlState(), e.message());
            }
            if (reset) {
                b.assumedParameters().clear();
            }
            diff.forEach((k, v) -> {
                if (v == null) {
                    b.assumedParameters().remove(k);
                } else if (!b.parameters().containsKey(k)) {
                    b.assumedParameters().put(k, v);
                }
            });
        }
        b.owner(parameters);
        Map<String, String> corrections = parameters.corrections(b.parameters());
        if (!corrections.isEmpty()) {
            MessageBuilder m = new MessageBuilder();
            corrections.forEach((k, v) -> m.bytes(new ParameterStatus(k, v).encode()));
            out.send(m.toByteArray());
        }
        b.appliedState(parameters.state());
    }

    private void pin(PinReason reason) {
        if (transactionMode && pins.hold(reason)) {
            pool.stats().pinned(reason);
            if (pinned == null) {
                pinned = reason;
                moveTo(ClientState.PINNED);
                log.info("{} pinned to its backend: {}", id, reason);
            }
        }
    }

    @Override
    public void forward(ByteBuffer run, boolean atBoundary) throws IOException {
        pool.stats().sent(run.remaining());
        out.forward(run, atBoundary);
    }

    @Override
    public void parameterStatus(String name, String value) {
        parameters.observe(name, value);
        if (!trackedSince.contains(name.toLowerCase(java.util.Locale.ROOT))) {
            pins.onParameterStatus();
        }
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
        if (tag.equals("SET")) {
            SetStatement.Sent sent = setTracker.onSet();
            if (sent instanceof SetStatement.Assignment set) {
                // A plain SET: followed from its commit on (see readyForQuery); its report, if any,
                // answers it and vouches for no other SET.
                trackedSince.add(set.name().toLowerCase(java.util.Locale.ROOT));
                return;
            }
            if (sent instanceof SetStatement.Default d) {
                trackedSince.add(d.name().toLowerCase(java.util.Locale.ROOT));
                forgetBackendParameters();
                return;
            }
            if (sent instanceof SetStatement.Local) {
                return;
            }
        }
        if (tag.equals("ROLLBACK")) {
            setTracker.onRollback();
        }
        PinReason r = pins.onCommandComplete(tag);
        if (r != null) {
            pin(r);
        }
        if (editor != null && (tag.equals("DISCARD ALL") || tag.equals("DEALLOCATE ALL"))) {
            // The backend dropped every prepared statement, other clients' too; the client's
            // own names are gone, as on a direct connection. Only those defined before this
            // statement: the client may have pipelined new ones after it.
            BackendConnection b = backend;
            long before = b != null ? b.replies().headStamp() : Long.MAX_VALUE;
            editor.statements().clearBefore(before);
            if (b != null) {
                b.statements().clearBefore(before);
            }
        }
        if (tag.equals("DISCARD ALL")) {
            setTracker.onDiscardAll();
            forgetBackendParameters();
        } else if (tag.equals("RESET")) {
            if (setTracker.onReset() == null) {
                // A RESET the look did not recognise: what it reset cannot be followed.
                pin(PinReason.UNTRACKED_SET);
            }
            forgetBackendParameters();
        }
    }

    /** The backend's unreported parameters went back to their defaults: what the proxy set there is unknown now. */
    private void forgetBackendParameters() {
        BackendConnection b = backend;
        if (b != null) {
            b.forgetParameterState();
        }
    }

    @Override
    public boolean repairPending() {
        return setTracker.repairPending();
    }

    /** The client's startup values for what a RESET took to the backend's defaults, as a hidden batch. */
    @Override
    public ByteBuffer repairBeforeReady(TransactionStatus status) {
        java.util.Set<String> names = setTracker.takeRepair();
        // A failed block would refuse the batch, and its RESET is undone with it anyway.
        Map<String, String> values = status == TransactionStatus.FAILED || (names != null && names.isEmpty())
                ? Map.of() : parameters.startupValues(names);
        if (values.isEmpty()) {
            return null;
        }
        log.debug("{} giving {} back its startup values {}", id, backend != null ? backend.id() : "?", values.keySet());
        return SessionParameters.setBatch(values);
    }

    @Override
    public void repaired(Map<String, String> reported) {
        MessageBuilder m = new MessageBuilder();
        reported.forEach((k, v) -> {
            parameters.observe(k, v);
            m.bytes(new ParameterStatus(k, v).encode());
        });
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
        setTracker.onError();
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
        if (statementMode && status != TransactionStatus.IDLE && !closing) {
            // As PgBouncer does: a transaction block would hold the backend past the statement.
            log.info("{} opened a transaction block in statement pooling mode, closing", id);
            terminate(ErrorResponse.fatal("0A000", "transaction blocks are not allowed in statement pooling mode")
                    .withHint("use transaction or session pooling for this client"));
        }
        if (transactionMode && answeredAll) {
            // The pin decision for what was sent so far, made before the client sees this
            // ReadyForQuery, so whatever it sends next already finds it taken.
            PinReason r = pins.onSettled(status == TransactionStatus.IDLE);
            if (status == TransactionStatus.IDLE && parameters.identityChanged()) {
                // SET SESSION AUTHORIZATION, or a role across superuser, outlived its transaction:
                // the backend runs as someone else, which no other backend is made to do for it.
                r = PinReason.IDENTITY;
            }
            trackedSince.clear();
            if (r != null) {
                pin(r);
            }
        }
        if (transactionMode) {
            SetTracker.Outcome o = setTracker.onReadyForQuery(status, answeredAll);
            if (o.pin()) {
                pin(PinReason.UNTRACKED_SET);
            }
            o.confirmed().forEach(this::confirm);
        }
    }

    /** A SET or RESET whose transaction committed: it now follows the client. */
    private void confirm(SetTracker.Change change) {
        switch (change) {
            case SetTracker.Set(SetStatement.Assignment set) -> {
                parameters.track(set.name(), set.value());
                BackendConnection b = backend;
                if (b != null && !parameters.isReported(set.name())) {
                    b.assumedParameters().put(set.name(), set.value());
                }
            }
            case SetTracker.Reset(SetStatement.Reset reset) -> {
                if (reset.all()) {
                    parameters.resetAll();
                } else {
                    parameters.reset(reset.name());
                }
            }
        }
    }

    /** Transaction pooling: hands the backend back once the client is between transactions. */
    @Override
    public void settled(BackendConnection b) {
        if (!transactionMode) {
            return;
        }
        if (pinned != null && b.status() == TransactionStatus.IDLE && pins.holdsNothing()) {
            // DISCARD ALL or DEALLOCATE ALL removed what tied the session to this backend.
            log.info("{} unpinned: nothing ties it to its backend any more", id);
            pinned = null;
            moveTo(ClientState.ACTIVE);
            pool.stats().unpinned();
        }
        if (pinned != null || closing) {
            return;
        }
        leaseLock.lock();
        try {
            if (backend == b && b.isReleasable()) {
                // The client's changes happened on this backend: it now holds exactly this state.
                b.leftInState(parameters.state(), parameters);
                lastBackend = b;
                backend = null;
                moveTo(ClientState.IDLE);
                pool.returnIdle(b);
                log.trace("{} returned {}", id, b.id());
            }
        } finally {
            leaseLock.unlock();
        }
    }

    @Override
    public void backendLost(BackendConnection lost, ErrorResponse fatal) {
        if (backend != lost) {
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
        BackendConnection b = backend;
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
        BackendConnection b = backend;
        if (!timeout.isZero() && b != null && !cancelSent && b.outstanding() > 0
                && nowNanos - requestSentNanos > timeout.toNanos()) {
            cancelSent = true;
            log.info("{} query timeout ({} ms): cancelling on {}", id, timeout.toMillis(), b.id());
            Thread.ofVirtual().name("pgproxy-cancel-" + id).start(b::cancel);
        }
    }

    /** For the janitor: waiting for the client inside an open transaction for longer than the timeout. */
    public boolean idleInTransactionExpired(long nowNanos, Duration timeout) {
        BackendConnection b = backend;
        return !timeout.isZero() && readingHeader && b != null && b.outstanding() == 0
                && b.status() != TransactionStatus.IDLE && nowNanos - parkedSinceNanos > timeout.toNanos();
    }

    /** Between requests with no transaction open: may be closed without losing work. */
    public boolean isIdle() {
        if (!authenticated) {
            return false;
        }
        BackendConnection b = backend;
        return readingHeader && (b == null || b.isClean());
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
        BackendConnection b;
        leaseLock.lock();
        try {
            b = backend;
            backend = null;
        } finally {
            leaseLock.unlock();
        }
        if (b != null) {
            if (b.isClosed()) {
                pool.discard(b);
            } else {
                pool.release(b);
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
