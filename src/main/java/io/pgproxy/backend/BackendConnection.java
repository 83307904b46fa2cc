package io.pgproxy.backend;

import io.pgproxy.buffer.BufferPool;
import io.pgproxy.protocol.message.BackendKeyData;
import io.pgproxy.protocol.message.Query;
import io.pgproxy.protocol.message.Terminate;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.BackendSession;
import io.pgproxy.session.BackendStatements;
import io.pgproxy.session.ReplyClock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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

    final String id = "b" + IDS.incrementAndGet();
    private final BackendTarget target;
    private final BufferPool buffers;
    /** Set by the connector before the reader starts, then never again. */
    volatile BackendSocket channel;
    private volatile BackendKeyData keyData;
    final Map<String, String> parameters = new ConcurrentHashMap<>();
    /** What the proxy knows of the session state here; set at login. */
    private volatile BackendSession session;
    final AtomicInteger outstanding = new AtomicInteger();
    private final ReentrantLock lock = new ReentrantLock();
    private final BackendWriter writer = new BackendWriter();
    private final Condition settled = lock.newCondition();
    private final long createdNanos = System.nanoTime();
    private volatile BackendReader reader;
    final ReplyQueue replies;
    private final BackendStatements statements = new BackendStatements();
    volatile boolean tracking;

    volatile BackendSink sink;
    /** The server went away: the reader ended without the proxy having closed the connection. */
    private volatile boolean serverGone;
    /** The loss was told to a sink: once, by the reader or by the holder that attached after it ended. */
    private final AtomicBoolean lossTold = new AtomicBoolean();
    /** The lease the connection is under while attached: told when it settles. */
    volatile BackendLease lease;
    volatile boolean watchCommands;
    volatile TransactionStatus status = TransactionStatus.IDLE;
    private final java.util.concurrent.atomic.AtomicReference<BackendState> state =
            new java.util.concurrent.atomic.AtomicReference<>(BackendState.CONNECTING);
    volatile boolean desynchronised;
    volatile ErrorResponse fatal;
    volatile ErrorResponse internalError;
    private volatile boolean waiting;
    /** Messages were sent after the last Sync: the backend is inside an unfinished request. */
    private volatile boolean pendingSinceSync;
    private volatile long lastReleasedNanos = createdNanos;
    /** ReadyForQuery messages of hidden batches sent ahead whose replies the reader has yet to consume. */
    final AtomicInteger hiddenOwed = new AtomicInteger();

    private BackendConnection(BackendTarget target, BufferPool buffers, ReplyClock clock) {
        this.target = target;
        this.buffers = buffers;
        this.replies = new ReplyQueue(clock);
    }

    /** A connection not yet opened ({@link BackendState#CONNECTING}); {@link BackendConnector} opens it. */
    public static BackendConnection create(BackendTarget target, BufferPool buffers, ReplyClock clock) {
        return new BackendConnection(target, buffers, clock);
    }

    /** Login succeeded on {@code channel}: the connection becomes idle and its reader starts. */
    void loggedIn(BackendSocket channel, BackendStartup.Result startup) {
        this.channel = channel;
        this.keyData = startup.keyData();
        this.parameters.putAll(startup.parameters());
        this.session = new BackendSession(parameters, startup.parameters());
        this.reader = new BackendReader(this, buffers);
        if (!moveTo(BackendState.IDLE)) {
            closeQuietly(channel);
            return;
        }
        Thread.ofVirtual().name("pgproxy-" + id).start(reader);
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

    /** What the proxy knows of the session state on this backend. */
    public BackendSession session() {
        return session;
    }

    public TransactionStatus status() {
        return status;
    }

    public long createdNanos() {
        return createdNanos;
    }

    /**
     * The backend's process id (its BackendKeyData): what pg_stat_activity shows as pid; 0 while
     * the connection is still logging in (SHOW SERVERS lists it from the moment it is opened).
     */
    public int backendPid() {
        BackendKeyData k = keyData;
        return k == null ? 0 : k.processId();
    }

    /** The TLS protocol and cipher to the backend ({@code TLSv1.3/TLS_AES_256_GCM_SHA384}), or "" without TLS. */
    public String tls() {
        BackendSocket s = channel;
        javax.net.ssl.SSLSession session = s == null ? null : s.tlsSession();
        return session == null ? "" : session.getProtocol() + "/" + session.getCipherSuite();
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

    /** How far the connection is from being handed on; the one question pools and clients ask. */
    public enum Readiness {
        /** Closed, out of step with its replies, or it sent a FATAL error: never reused. */
        BROKEN,
        /** Replies owed, a message half relayed, or an extended-protocol request without its Sync. */
        BUSY,
        /** Every reply in, but inside a transaction block (or a failed one). */
        IN_TRANSACTION,
        /** Every reply in, outside any transaction: may serve another client. */
        READY
    }

    public Readiness readiness() {
        BackendReader r = reader;
        if (isClosed() || desynchronised || fatal != null || replies.lost() || r == null) {
            return Readiness.BROKEN;
        }
        if (outstanding.get() != 0 || pendingSinceSync || !r.atBoundary() || !replies.isEmpty()) {
            return Readiness.BUSY;
        }
        return status == TransactionStatus.IDLE ? Readiness.READY : Readiness.IN_TRANSACTION;
    }

    /** Relays to {@code sink} from now on, and reports settling to {@code lease}. */
    public void attach(BackendSink sink, BackendLease lease) {
        this.watchCommands = sink.watchesCommands();
        this.tracking = sink.tracksReplies();
        this.lease = lease;
        this.sink = sink;
    }

    /**
     * Tells the attached sink, once, that the server went away. The reader calls it as it ends;
     * a holder calls it after attaching, since a connection can die between being leased and
     * attached, when the reader finds no sink to tell: one of the two sees the other's write.
     */
    public void tellLossIfGone() {
        BackendSink s = sink;
        if (serverGone && s != null && lossTold.compareAndSet(false, true)) {
            s.backendLost(this, fatal);
        }
    }

    /** For the reader as it ends: the server, not the proxy, closed the connection. */
    void serverWentAway() {
        // Before the loss is told: a reply synthesized after the loss's errors would follow them.
        replies.abandon();
        serverGone = true;
    }

    /** An extended-protocol request was begun on this backend and its Sync not yet sent. */
    public boolean requestPending() {
        return pendingSinceSync;
    }

    public void detach() {
        this.sink = null;
        this.lease = null;
        this.watchCommands = false;
        this.tracking = false;
    }

    /**
     * Records what a run of requests about to be sent makes the backend owe: the ReadyForQuery
     * count, whether it leaves an extended-protocol request unfinished (such a backend is not
     * idle even when every ReadyForQuery owed has arrived), and the replies to match.
     */
    public void owe(RequestRun run) {
        if (run.readyForQueries() > 0) {
            outstanding.addAndGet(run.readyForQueries());
        }
        if (run.sawRequest()) {
            pendingSinceSync = run.pendingAfterSync();
        }
        if (run.mayDeallocate()) {
            replies.expectDeallocation();
        }
        if (run.kinds() != null) {
            replies.expectAll(run.kinds(), run.kinds().length, run.deallocatingKind());
        }
    }

    /**
     * Queues a hidden batch (one request, owing one ReadyForQuery) to leave in the same write as
     * the lease holder's next run, so bringing a backend to a client's session costs no round
     * trip of its own. The reader consumes the batch's replies, then tells the sink
     * ({@link BackendSink#aheadAnswered}) before relaying anything that follows. Called by the
     * lease holder after attaching.
     */
    public void sendAhead(ByteBuffer batch) {
        sendAhead(batch, 1);
    }

    /** As {@link #sendAhead(ByteBuffer)}, for a batch of {@code requests} requests, each owing a ReadyForQuery. */
    public void sendAhead(ByteBuffer batch, int requests) {
        outstanding.addAndGet(requests);
        hiddenOwed.addAndGet(requests);
        writer.ahead(batch);
    }

    /** Whether everything relayed to the client so far ended at a message boundary: nothing half sent. */
    public boolean relayedWholeMessages() {
        BackendReader r = reader;
        return r == null || r.atBoundary();
    }

    /** ReadyForQuery messages owed to the client (hidden batches' not counted). */
    public int owedToClient() {
        return outstanding.get() - hiddenOwed.get();
    }

    /** Writes bytes to the backend. Called only by the lease holder. */
    public void send(ByteBuffer bytes) throws IOException {
        writer.send(channel, bytes);
    }

    /** Writes {@code parts[0, n)} to the backend with gathering writes. Called only by the lease holder. */
    public void send(ByteBuffer[] parts, int n) throws IOException {
        writer.send(channel, parts, n);
    }

    /**
     * Runs a simple query whose replies nobody sees (reset, rollback). Returns the backend's
     * error, or null. The connection must be detached and settled.
     */
    public ErrorResponse runInternal(String sql, Duration timeout) throws IOException {
        return runInternal(ByteBuffer.wrap(new Query(sql).encode()), 1, timeout);
    }

    /** Sends prepared messages owing {@code readyForQueries} and waits, bounded, until they are answered. */
    public ErrorResponse runInternal(ByteBuffer messages, int readyForQueries, Duration timeout) throws IOException {
        if (sink != null) {
            throw new IllegalStateException(id + " internal query while attached");
        }
        internalError = null;
        outstanding.addAndGet(readyForQueries);
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
        BackendCancel.send(id, target, keyData);
    }

    /**
     * Closes the socket but leaves the state change to the reader, which then reports the loss
     * to the client holding the backend exactly as if the server had gone: a client whose
     * session can move keeps it. Used where the proxy takes a backend from under its client.
     */
    public void sever() {
        closeQuietly(channel);
    }

    /** Sends Terminate when possible and closes the socket. */
    public void close() {
        BackendReader r = reader;
        boolean cleanForTerminate = r != null && outstanding.get() == 0 && r.atBoundary();
        if (!moveTo(BackendState.CLOSED)) {
            return;
        }
        if (cleanForTerminate) {
            try {
                send(ByteBuffer.wrap(new Terminate().encode()));
            } catch (IOException ignored) {
                // Closing anyway.
            }
        }
        closeQuietly(channel);
        signalSettled();
    }

    void signalSettled() {
        if (waiting) {
            lock.lock();
            try {
                settled.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    static void closeQuietly(java.nio.channels.Channel channel) {
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
}
