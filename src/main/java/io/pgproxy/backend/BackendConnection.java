package io.pgproxy.backend;

import io.pgproxy.buffer.BufferPool;
import io.pgproxy.protocol.FrameScanner;
import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket;
import io.pgproxy.protocol.Wire;
import io.pgproxy.protocol.message.BackendKeyData;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.ParameterStatus;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.BackendStatements;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One authenticated connection to a backend. Its own virtual thread reads everything the
 * backend sends for the connection's whole life: while leased it relays to the leasing
 * client's {@link BackendSink}; otherwise it consumes replies to internal queries and watches
 * for the backend going away. Writes come from one thread at a time: the lease holder.
 *
 * <p>It counts the ReadyForQuery messages still owed, so it can tell when it is clean: nothing
 * outstanding, idle transaction status, no half-relayed message. Only a clean connection may be
 * handed to someone else.
 */
public final class BackendConnection {
    private static final Logger log = LoggerFactory.getLogger(BackendConnection.class);
    private static final AtomicLong IDS = new AtomicLong();

    private final String id = "b" + IDS.incrementAndGet();
    private final BackendTarget target;
    private final SocketChannel channel;
    private final BackendKeyData keyData;
    private final Map<String, String> parameters;
    private final Map<String, String> assumed = new ConcurrentHashMap<>();
    /** The client parameter state this backend was last brought to; null when unknown. */
    private volatile Object appliedState;
    private volatile boolean parameterStateForgotten;
    /**
     * Whose session this backend carries: null while it is as it logged in (new, or reset with
     * DISCARD ALL), else the last client's token, or {@link #UNKNOWN_OWNER}. A backend that
     * carries another client's session is reset before it serves a new one.
     */
    private volatile Object owner;
    /** What the backend reported at login: its parameters after SET SESSION AUTHORIZATION DEFAULT and RESET ALL. */
    private final Map<String, String> baseline;
    private final AtomicInteger outstanding = new AtomicInteger();
    private final ReentrantLock lock = new ReentrantLock();
    /** Writes from the client's thread and the reader's repair never interleave on the socket. */
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Condition settled = lock.newCondition();
    private final long createdNanos = System.nanoTime();
    private final Reader reader;
    private final ReplyQueue replies = new ReplyQueue();
    private final BackendStatements statements = new BackendStatements();
    private volatile boolean tracking;
    /** What its pool handed it out with (a permit); null while not leased. */
    private final java.util.concurrent.atomic.AtomicReference<Object> leaseToken =
            new java.util.concurrent.atomic.AtomicReference<>();

    private volatile BackendSink sink;
    private volatile boolean watchCommands;
    private volatile TransactionStatus status = TransactionStatus.IDLE;
    private final java.util.concurrent.atomic.AtomicReference<BackendState> state =
            new java.util.concurrent.atomic.AtomicReference<>(BackendState.IDLE);
    private volatile boolean desynchronised;
    private volatile ErrorResponse fatal;
    private volatile ErrorResponse internalError;
    private volatile boolean waiting;
    /** Messages were sent after the last Sync: the backend is inside an unfinished request. */
    private volatile boolean pendingSinceSync;
    private volatile long lastReleasedNanos = createdNanos;

    private BackendConnection(BackendTarget target, SocketChannel channel, BackendStartup.Result startup,
                              BufferPool buffers) {
        this.target = target;
        this.channel = channel;
        this.keyData = startup.keyData();
        this.parameters = new ConcurrentHashMap<>(startup.parameters());
        this.baseline = Map.copyOf(startup.parameters());
        this.reader = new Reader(buffers);
    }

    /** Connects, authenticates and starts the reader thread. */
    public static BackendConnection open(BackendTarget target, BufferPool buffers) throws BackendException {
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open();
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            channel.socket().connect(new InetSocketAddress(target.host(), target.port()),
                    (int) Math.min(Integer.MAX_VALUE, target.connectTimeout().toMillis()));
        } catch (IOException e) {
            closeQuietly(channel);
            throw new BackendException(ErrorResponse.error("08001",
                    "could not connect to backend " + target.host() + ":" + target.port() + ": " + e.getMessage()), e);
        }
        // The connect timeout bounds the whole login: a backend that accepts and then says
        // nothing must not hold the client forever.
        SocketChannel watched = channel;
        Thread watchdog = Thread.ofVirtual().name("pgproxy-connect-watchdog").start(() -> {
            try {
                Thread.sleep(target.connectTimeout());
                closeQuietly(watched);
            } catch (InterruptedException done) {
                // Startup finished in time.
            }
        });
        try {
            BackendStartup.Result startup = BackendStartup.run(channel, target);
            watchdog.interrupt();
            BackendConnection c = new BackendConnection(target, channel, startup, buffers);
            Thread.ofVirtual().name("pgproxy-" + c.id).start(c.reader);
            log.debug("{} connected to {} (backend pid {})", c.id, target, startup.keyData().processId());
            return c;
        } catch (BackendException e) {
            closeQuietly(channel);
            throw e;
        } catch (IOException e) {
            closeQuietly(channel);
            String reason = e instanceof java.nio.channels.ClosedChannelException
                    ? "no answer within " + target.connectTimeout().toMillis() + " ms" : e.getMessage();
            throw new BackendException(ErrorResponse.error("08001",
                    "backend " + target.host() + ":" + target.port() + " failed during startup: " + reason), e);
        } finally {
            watchdog.interrupt();
        }
    }

    public String id() {
        return id;
    }

    public BackendTarget target() {
        return target;
    }

    /** The run-time parameters as the backend last reported them. */
    public Map<String, String> parameters() {
        return parameters;
    }

    /**
     * Values the proxy set here for parameters the backend does not report; forgotten when the
     * backend is reset.
     */
    public Map<String, String> assumedParameters() {
        return assumed;
    }

    /** Marks the connection leased, holding {@code token} for its pool. */
    public void leaseToken(Object token) {
        leaseToken.set(token);
    }

    /** Takes back the lease token, once: null if the connection was not leased. */
    public Object takeLeaseToken() {
        return leaseToken.getAndSet(null);
    }

    /** The replies owed message by message, while a client's requests are being edited. */
    public ReplyQueue replies() {
        return replies;
    }

    /** The proxy-wide prepared statements this connection holds. */
    public BackendStatements statements() {
        return statements;
    }

    /** ReadyForQuery messages still owed. */
    public int outstanding() {
        return outstanding.get();
    }

    public Object appliedState() {
        return appliedState;
    }

    /** The backend was just brought to this client parameter state. */
    public void appliedState(Object state) {
        this.appliedState = state;
        this.parameterStateForgotten = false;
    }

    /**
     * A client leaves the backend holding its parameter state, unless that state became unknown
     * during the lease (RESET ALL, DISCARD ALL): then the next client's values are set anew.
     * Whatever else the client changed stays too, so the backend is now that client's.
     */
    public void leftInState(Object state, Object client) {
        if (!parameterStateForgotten) {
            this.appliedState = state;
        }
        this.owner = client;
    }

    /** Marks whose session the backend carries; see {@link #owner()}. */
    public void owner(Object client) {
        this.owner = client;
    }

    /** Whose session the backend carries: null when none (as logged in), else a client's token or {@link #UNKNOWN_OWNER}. */
    public Object owner() {
        return owner;
    }

    /** The owner of a backend whose session state nobody can vouch for (a reset query other than DISCARD ALL). */
    public static final Object UNKNOWN_OWNER = new Object();

    /** The parameters the backend reported at login, which a full reset brings it back to. */
    public Map<String, String> baselineParameters() {
        return baseline;
    }

    /** Forgets what the proxy knew of this backend's parameters (after a reset, RESET ALL, DISCARD ALL). */
    public void forgetParameterState() {
        assumed.clear();
        appliedState = null;
        parameterStateForgotten = true;
    }

    public TransactionStatus status() {
        return status;
    }

    public long createdNanos() {
        return createdNanos;
    }

    /** The backend's process id (its BackendKeyData): what pg_stat_activity shows as pid. */
    public int backendPid() {
        return keyData.processId();
    }

    public long lastReleasedNanos() {
        return lastReleasedNanos;
    }

    public void markReleased() {
        lastReleasedNanos = System.nanoTime();
    }

    public boolean isClosed() {
        return state.get() == BackendState.CLOSED;
    }

    public BackendState state() {
        return state.get();
    }

    /**
     * The one way the connection's state changes. Returns false when it was closed meanwhile
     * (the backend went away, the janitor evicted it): a race the caller settles by not using
     * it. Any other move the table in {@link BackendState} does not allow is a bug.
     */
    public boolean moveTo(BackendState next) {
        while (true) {
            BackendState current = state.get();
            if (current == BackendState.CLOSED) {
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

    /** Nothing owed, nothing half-relayed, transaction idle, backend alive: safe to hand on. */
    public boolean isClean() {
        return !isClosed() && !desynchronised && fatal == null && outstanding.get() == 0
                && status == TransactionStatus.IDLE && reader.atBoundary() && !replies.lost() && replies.isEmpty();
    }

    /** Nothing owed and nothing half-relayed, whatever the transaction status. */
    public boolean isSettled() {
        return !isClosed() && !desynchronised && !pendingSinceSync && outstanding.get() == 0 && reader.atBoundary();
    }

    public void attach(BackendSink sink) {
        this.watchCommands = sink.watchesCommands();
        this.tracking = sink.tracksReplies();
        this.sink = sink;
    }

    public void detach() {
        this.sink = null;
        this.watchCommands = false;
        this.tracking = false;
    }

    /** Records that the messages about to be sent make the backend owe {@code n} ReadyForQuery. */
    public void expectReadyForQuery(int n) {
        outstanding.addAndGet(n);
    }

    /**
     * Records whether the last message about to be sent leaves an extended-protocol request
     * unfinished (Parse, Bind, Execute ... without Sync yet). Such a backend is not idle even
     * when every ReadyForQuery owed has arrived.
     */
    public void pendingSinceSync(boolean pending) {
        this.pendingSinceSync = pending;
    }

    /** Clean, and nothing sent since the last Sync: may go back to the pool between transactions. */
    public boolean isReleasable() {
        return !pendingSinceSync && isClean();
    }

    /** Writes bytes to the backend. Called only by the lease holder. */
    public void send(ByteBuffer bytes) throws IOException {
        writeLock.lock();
        try {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Writes {@code parts[0, n)} to the backend with gathering writes. Called only by the lease holder. */
    public void send(ByteBuffer[] parts, int n) throws IOException {
        writeLock.lock();
        try {
            int first = 0;
            while (first < n) {
                channel.write(parts, first, n - first);
                while (first < n && !parts[first].hasRemaining()) {
                    first++;
                }
            }
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * Runs a simple query whose replies nobody sees (reset, rollback). Returns the backend's
     * error, or null. The connection must be detached and settled.
     */
    public ErrorResponse runInternal(String sql, Duration timeout) throws IOException {
        byte[] q = new MessageBuilder().begin((byte) 'Q').cstring(sql).end().toByteArray();
        return runInternal(ByteBuffer.wrap(q), 1, timeout);
    }

    /** Sends prepared messages owing {@code readyForQueries} and waits, bounded, until they are answered. */
    public ErrorResponse runInternal(ByteBuffer messages, int readyForQueries, Duration timeout) throws IOException {
        if (sink != null) {
            throw new IllegalStateException(id + " internal query while attached");
        }
        internalError = null;
        expectReadyForQuery(readyForQueries);
        send(messages);
        if (!awaitSettled(timeout)) {
            throw new IOException(id + " internal query not answered within " + timeout);
        }
        return internalError;
    }

    /** Waits until nothing is owed or the connection closes; false on timeout or close. */
    public boolean awaitSettled(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            waiting = true;
            while (outstanding.get() > 0 && !isClosed()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                settled.await(left, TimeUnit.NANOSECONDS);
            }
            return !isClosed();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(id + " interrupted while waiting for the backend");
        } finally {
            waiting = false;
            lock.unlock();
        }
    }

    /** Sends a CancelRequest for this backend's current query over a new connection. */
    public void cancel() {
        try (SocketChannel c = SocketChannel.open()) {
            c.socket().connect(new InetSocketAddress(target.host(), target.port()),
                    (int) Math.min(Integer.MAX_VALUE, target.connectTimeout().toMillis()));
            ByteBuffer b = new MessageBuilder().beginUntagged().int32(StartupPacket.CANCEL_REQUEST_CODE)
                    .int32(keyData.processId()).bytes(keyData.secretKey()).end().toBuffer();
            while (b.hasRemaining()) {
                c.write(b);
            }
            // The backend closes the socket when it has read the request; waiting for that
            // keeps the cancel ordered before whatever the client does next.
            c.read(ByteBuffer.allocate(1));
            log.debug("{} cancel request sent", id);
        } catch (IOException e) {
            log.info("{} cancel request failed: {}", id, e.getMessage());
        }
    }

    /** Sends Terminate when possible and closes the socket. */
    public void close() {
        boolean cleanForTerminate = isCleanForTerminate();
        if (!moveTo(BackendState.CLOSED)) {
            return;
        }
        if (cleanForTerminate) {
            try {
                send(ByteBuffer.wrap(new byte[]{'X', 0, 0, 0, 4}));
            } catch (IOException ignored) {
                // Closing anyway.
            }
        }
        closeQuietly(channel);
        signalSettled();
    }

    private boolean isCleanForTerminate() {
        return outstanding.get() == 0 && reader.atBoundary();
    }

    private void signalSettled() {
        if (waiting) {
            lock.lock();
            try {
                settled.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // Nothing to do.
            }
        }
    }

    @Override
    public String toString() {
        return id + "(" + target + ")";
    }

    /** The reader thread: scans every run the backend sends, relays it, keeps the counters. */
    /** The reader's cut for a repair batch; distinct from the reply queue's actions. */
    private static final int REPAIR = -2;

    private final class Reader extends FrameScanner implements Runnable {
        private final BufferPool buffers;
        private int readyForQuerySeen;
        private int capacity;
        /** Replies are matched against the queue in the run being scanned. */
        private boolean matching;
        private int cutAction;
        /** The batch to run before the ReadyForQuery the scan stopped at ({@link #REPAIR}). */
        private ByteBuffer repairBatch;

        Reader(BufferPool buffers) {
            this.buffers = buffers;
        }

        @Override
        protected int onHeader(byte tag, int length) throws ProtocolException {
            // Before the reply queue sees this ReadyForQuery: it is scanned again after the repair.
            if (tag == 'Z' && repairBatch == null && outstanding.get() == 1) {
                BackendSink s = sink;
                if (s != null && s.repairPending()) {
                    if (peekable() < 1) {
                        return DEFER;
                    }
                    ByteBuffer batch = s.repairBeforeReady(TransactionStatus.of(peek(0)));
                    if (batch != null) {
                        repairBatch = batch;
                        cutAction = REPAIR;
                        return CUT;
                    }
                }
            }
            if (matching) {
                int d = replies.onReply(tag);
                if (d != ReplyQueue.FORWARD) {
                    if (d == ReplyQueue.DROP && length != 4) {
                        throw new ProtocolException("unexpected length " + length + " of a completion message from backend");
                    }
                    cutAction = d;
                    return CUT;
                }
            }
            return switch (tag) {
                case 'Z', 'S' -> INSPECT;
                // Only short tags matter (LISTEN, SET, ...); long ones pass uninspected.
                case 'C' -> length <= 64 && watchCommands ? INSPECT : PASS;
                // An error too large to inspect still reaches the client; only its severity is unseen.
                case 'E' -> length + 1 <= capacity ? INSPECT : PASS;
                default -> PASS;
            };
        }

        @Override
        protected void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) throws ProtocolException {
            if (tag == 'Z') {
                // The hot path: once per request, so no allocation here.
                if (bodyLength != 1) {
                    throw new ProtocolException("invalid ReadyForQuery length from backend");
                }
                status = TransactionStatus.of(buffer.get(bodyStart));
                // Counted before the run is forwarded: a client that leaves as soon as it has
                // this reply must find the backend settled, not closed as if a reply were owed.
                int left = outstanding.decrementAndGet();
                if (left < 0) {
                    // More replies than requests: the proxy lost track, so nobody else may use this backend.
                    desynchronised = true;
                    outstanding.set(0);
                }
                readyForQuerySeen++;
                BackendSink s = sink;
                if (s != null) {
                    s.readyForQuery(status, left <= 0);
                }
                return;
            }
            if (tag == 'C') {
                // Once per statement in transaction mode: decoded in place.
                BackendSink s = sink;
                if (s != null) {
                    s.commandComplete(Wire.cstring(buffer, bodyStart, bodyStart + bodyLength));
                }
                return;
            }
            ByteBuffer body = buffer.duplicate().position(bodyStart).limit(bodyStart + bodyLength).slice();
            switch (tag) {
                case 'S' -> {
                    ParameterStatus p = ParameterStatus.decode(body);
                    parameters.put(p.name(), p.value());
                    BackendSink s = sink;
                    if (s != null) {
                        s.parameterStatus(p.name(), p.value());
                    }
                }
                case 'E' -> {
                    ErrorResponse e = ErrorResponse.decode(body);
                    if (e.isFatal()) {
                        fatal = e;
                    }
                    BackendSink s = sink;
                    if (s != null) {
                        s.errorResponse();
                    } else if (internalError == null) {
                        internalError = e;
                    }
                }
                default -> {
                }
            }
        }

        /** Scans from the buffer's position, relays what may go, returns where the scan stopped. */
        private int scanAndForward(ByteBuffer buffer) throws IOException {
            int start = buffer.position();
            int end = scan(buffer);
            BackendSink s = sink;
            if (s != null && end > start) {
                int limit = buffer.limit();
                buffer.limit(end);
                try {
                    s.forward(buffer, atBoundary() && end == limit);
                } catch (IOException e) {
                    // The client is gone; its thread notices on its own. Keep consuming
                    // so the counters stay true and the connection may still be reused.
                    log.debug("{} client write failed: {}", id, e.getMessage());
                    if (sink == s) {
                        sink = null;
                    }
                }
                buffer.limit(limit);
            }
            return end;
        }

        /**
         * The run of a client whose requests the proxy edits: replies to messages the proxy
         * added are cut out, and its own replies put in where they fall due.
         */
        private void relayMatched(ByteBuffer buffer) throws IOException {
            replies.lock();
            try {
                while (true) {
                    cutAction = ReplyQueue.FORWARD;
                    int end = scanAndForward(buffer);
                    buffer.position(end);
                    if (cutAction == ReplyQueue.DROP) {
                        buffer.position(end + 5);
                    } else if (cutAction == ReplyQueue.EMIT) {
                        emitDue();
                    } else if (cutAction == REPAIR) {
                        repair();
                    } else {
                        break;
                    }
                }
                emitDue();
            } finally {
                replies.unlock();
            }
        }

        /**
         * Runs the client's repair batch while its last ReadyForQuery is held back, so whatever
         * the batch makes the backend report reaches the client before that ReadyForQuery, as
         * if the statement had done it. Reads exactly the batch's replies, no further: what
         * follows belongs to the main scan. Nothing else is owed (checked in onHeader), so only
         * asynchronous messages can come between.
         */
        private void repair() throws IOException {
            ByteBuffer batch = repairBatch;
            repairBatch = null;
            send(batch);
            Map<String, String> reported = new java.util.LinkedHashMap<>();
            ByteBuffer header = ByteBuffer.allocate(5);
            while (true) {
                header.clear();
                readFully(header);
                byte tag = header.get(0);
                int length = header.getInt(1);
                if (length < 4 || length > capacity) {
                    throw new ProtocolException("invalid message length " + length + " from backend during a parameter repair");
                }
                ByteBuffer body = ByteBuffer.allocate(length - 4);
                readFully(body);
                body.flip();
                switch (tag) {
                    case 'S' -> {
                        ParameterStatus p = ParameterStatus.decode(body);
                        parameters.put(p.name(), p.value());
                        reported.put(p.name(), p.value());
                    }
                    case 'E' -> log.info("{} parameter repair failed: {}", id, ErrorResponse.decode(body).message());
                    case 'Z' -> {
                        BackendSink s = sink;
                        if (s != null) {
                            s.repaired(reported);
                        }
                        return;
                    }
                    default -> {
                        // ParseComplete, BindComplete, DataRow, CommandComplete of the batch;
                        // a notice or notification in between is dropped with them.
                    }
                }
            }
        }

        private void readFully(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                if (channel.read(b) < 0) {
                    throw new java.io.EOFException("backend closed the connection during a parameter repair");
                }
            }
        }

        private void emitDue() {
            byte[] reply;
            while ((reply = replies.takeSynthetic()) != null) {
                BackendSink s = sink;
                if (s != null) {
                    try {
                        s.forward(ByteBuffer.wrap(reply), true);
                    } catch (IOException e) {
                        log.debug("{} client write failed: {}", id, e.getMessage());
                        if (sink == s) {
                            sink = null;
                        }
                    }
                }
            }
        }

        @Override
        public void run() {
            ByteBuffer buffer = buffers.acquire();
            capacity = buffer.capacity();
            try {
                while (true) {
                    if (channel.read(buffer) < 0) {
                        break;
                    }
                    buffer.flip();
                    matching = tracking;
                    if (matching) {
                        relayMatched(buffer);
                        if (replies.lost() && !desynchronised) {
                            log.warn("{} replies out of step with the requests sent; not reused", id);
                            desynchronised = true;
                        }
                    } else {
                        while (true) {
                            cutAction = ReplyQueue.FORWARD;
                            buffer.position(scanAndForward(buffer));
                            if (cutAction != REPAIR) {
                                break;
                            }
                            repair();
                        }
                    }
                    buffer.compact();
                    if (readyForQuerySeen > 0) {
                        readyForQuerySeen = 0;
                        if (outstanding.get() <= 0) {
                            signalSettled();
                            BackendSink current = sink;
                            if (current != null) {
                                current.settled(BackendConnection.this);
                            }
                        }
                    }
                }
            } catch (IOException e) {
                if (!isClosed()) {
                    log.info("{} backend connection failed: {}", id, e.getMessage());
                }
            } finally {
                buffers.release(buffer);
                boolean wasClosedByUs = !moveTo(BackendState.CLOSED);
                closeQuietly(channel);
                signalSettled();
                BackendSink s = sink;
                if (!wasClosedByUs) {
                    log.debug("{} backend closed the connection{}", id,
                            fatal != null ? ": " + fatal.sqlState() + " " + fatal.message() : "");
                    if (s != null) {
                        s.backendLost(BackendConnection.this, fatal);
                    }
                }
            }
        }
    }
}
