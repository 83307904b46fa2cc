package io.pgproxy.client;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendException;
import io.pgproxy.backend.BackendSink;
import io.pgproxy.backend.RequestRun;
import io.pgproxy.pool.Lease;
import io.pgproxy.pool.LeaseHolder;
import io.pgproxy.pool.Pool;
import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.ParameterStatus;
import io.pgproxy.protocol.message.ReadyForQuery;
import io.pgproxy.session.PinReason;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.SessionTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A client session's side of its leases: takes a lease when a run needs a backend, brings the
 * backend to the session, receives the backend's replies (on the backend reader's thread) and
 * carries out what the session tracker decides about them, and tells a lease at each settle
 * whether the backend may go back to the pool.
 */
final class BackendLink implements BackendSink, LeaseHolder, RequestRelay.Backends {
    private static final Logger log = LoggerFactory.getLogger(BackendLink.class);

    private final ClientSession session;
    private final String id;
    private final Pool pool;
    private final SessionTracker tracker;
    private final StatementEditor editor;
    private final ClientChannel out;
    /** The session's state is followed, so it can move to another backend (see ClientLogin.Route). */
    private final boolean tracked;
    private final boolean transactionMode;
    /** The lease the client holds now, or null; set only on the client's thread, cleared at a settle by the lease. */
    private volatile Lease lease;
    /** The backend this client last returned: asked for first, since it already holds the client's session. */
    private volatile BackendConnection lastBackend;
    private volatile long requestSentNanos;
    /** When the transaction now running began; 0 between transactions. */
    private volatile long transactionStartNanos;
    private volatile boolean cancelSent;
    /**
     * A COMMIT (END, PREPARE TRANSACTION) was sent and not yet answered: if the backend dies
     * now, whether the transaction committed is unknown, and the client is told so (08007).
     */
    private volatile boolean commitInFlight;
    /** The client's transaction block that died with its backend, until it is failed on the next one. */
    private final LostBlock lostBlock = new LostBlock();
    /**
     * The backend died with an extended-protocol request begun on it and its Sync not sent:
     * what the client sends of it from there must not start on a new backend without its
     * beginning (a BEGIN gone, the INSERT after it would commit alone). The rest is refused up
     * to the Sync, with an error, as PostgreSQL fails a request.
     */
    private volatile boolean requestCut;
    /** When the client last asked its pool for a backend (System.nanoTime): SHOW CLIENTS' wait. */
    private volatile long waitingSinceNanos;
    /** Runs the transaction again where its backend dies; null where transaction replay is off. */
    private final TransactionReplay replay;

    BackendLink(ClientSession session, Pool pool, SessionTracker tracker, StatementEditor editor, ClientChannel out,
                boolean tracked, boolean transactionMode, TransactionJournal journal, Supplier<Duration> replayTimeout) {
        this.replay = journal == null ? null : new TransactionReplay(session.id(), pool, journal, replayTimeout, this);
        this.session = session;
        this.id = session.id();
        this.pool = pool;
        this.tracker = tracker;
        this.editor = editor;
        this.out = out;
        this.tracked = tracked;
        this.transactionMode = transactionMode;
    }

    /** The backend the client holds now, or null. */
    BackendConnection backend() {
        Lease l = lease;
        return l == null ? null : l.backend();
    }

    @Override
    public boolean holdsLease() {
        return lease != null;
    }

    long waitingSinceNanos() {
        return waitingSinceNanos;
    }

    /** When the client's last request went to a backend (System.nanoTime), or 0. */
    long requestSentNanos() {
        return requestSentNanos;
    }

    /**
     * The backend for the run about to be sent, leased now if the client holds none or its
     * lease ended at a settle. The lease records what the run owes under the lock its settle
     * takes, so a backend is never handed back while a request is on its way to it.
     */
    @Override
    public BackendConnection claim(RequestScanner scanner, ByteBuffer sent, int start, int end) throws IOException {
        RequestRun run = scanner.takeRun();
        Lease l = lease;
        if (l != null && tracked && !transactionMode && l.backend().outstanding() == 0
                && l.backend().status() == TransactionStatus.IDLE) {
            // Session pooling on a cluster, between transactions: the backend goes back if the
            // database is paused (a switchover) or the backend is to close, and this run
            // leases through the gate like any new transaction.
            l.settled();
        }
        if (run.mayCommit()) {
            // Before the run is owed, so a loss that finds it owed also finds the COMMIT.
            commitInFlight = true;
        }
        // A lease lost meanwhile refuses the run (Lease.lost): it goes to the backend a replay
        // moved the transaction to, or to a new one.
        if (l == null || !owe(l, run, sent, start, end)) {
            Lease moved = lease;
            l = moved != null && moved != l && owe(moved, run, sent, start, end) ? moved : leaseOrRefuse(run, sent, start, end);
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

    /** Owes {@code run} on {@code l}, recorded for replay (when on) under the same lock. */
    private boolean owe(Lease l, RequestRun run, ByteBuffer sent, int start, int end) {
        TransactionReplay r = replay;
        return r == null ? l.owe(run) : r.owe(l, run, sent, start, end);
    }

    /**
     * Brings the backend of a replay to the session: the hidden batch to send ahead of the
     * replayed requests, or null. For {@link TransactionReplay} only.
     */
    SessionTracker.Sync bringForReplay(BackendConnection b) throws IOException {
        return syncParameters(b);
    }

    /** The lease a replay ran the client's transaction on is the client's now. For {@link TransactionReplay} only. */
    void adoptReplayLease(Lease next) {
        lease = next;
    }

    /**
     * A new lease for {@code first}; where none can be had (no server reachable, none primary
     * in time, the server refused the login) the run is answered with that error here and the
     * session goes on between requests, as after a failed statement: its state is the client's
     * and the proxy's, never only the lost backend's, so its next request leases again.
     */
    private Lease leaseOrRefuse(RequestRun first, ByteBuffer sent, int start, int end) throws IOException {
        boolean cut = requestCut;
        requestCut = false;
        if (lostBlock.tell() || cut) {
            // Lost while the client was idle in it, it had only a notice: the error comes now, as
            // from a dead server. Sent on, a COMMIT would find the failed block and get
            // PostgreSQL's silent ROLLBACK, which drivers take for a commit.
            log.info("{} told that its {} was lost with its server connection", id, cut ? "request" : "transaction");
            throw refuse(first, ErrorResponse.error(LossReplies.LOST,
                    lostBlock.failedForClient() ? LossReplies.BLOCK_LOST : LossReplies.REQUEST_CUT));
        }
        try {
            return lease(first, sent, start, end);
        } catch (BackendException e) {
            pool.stats().requestRefused();
            log.warn("{} no backend for the request: {}; the session goes on", id, e.getMessage());
            throw refuse(first, ErrorResponse.error(e.error().sqlState(), e.error().message()));
        }
    }

    /**
     * Answers {@code run}, which goes to no backend, as PostgreSQL answers a request that fails
     * with {@code error}: the error and a ReadyForQuery for each request of the run, and for one
     * it ends inside, the error now and the ReadyForQuery at its Sync (the relay drops the rest).
     */
    private RunRefused refuse(RequestRun run, ErrorResponse error) throws IOException {
        // Nothing of the run went anywhere, a COMMIT included.
        commitInFlight = false;
        boolean discard = run.pendingAfterSync();
        session.errorSent(error.sqlState());
        out.forward(ByteBuffer.wrap(LossReplies.failed(error, run.readyForQueries(), discard, lostBlock.clientStatus())), true);
        return new RunRefused(error.message(), discard);
    }

    /** The Sync that ends what a refused run left of an extended-protocol request: its ReadyForQuery. */
    @Override
    public void refusedRequestSynced() throws IOException {
        out.forward(ByteBuffer.wrap(new ReadyForQuery(lostBlock.clientStatus()).encode()), true);
    }

    /** A new lease, brought to the session and attached with what {@code first} owes. */
    private Lease lease(RequestRun first, ByteBuffer sent, int start, int end) throws IOException {
        waitingSinceNanos = System.nanoTime();
        if (!session.moveTo(ClientState.WAITING)) {
            throw new ClosedChannelException();
        }
        Lease l;
        try {
            l = pool.acquire(lastBackend);
        } catch (IOException | RuntimeException e) {
            session.moveTo(ClientState.IDLE);
            throw e;
        }
        BackendConnection b = l.backend();
        SessionTracker.Sync ahead;
        try {
            ahead = syncParameters(b);
        } catch (IOException | RuntimeException e) {
            // Leased but never attached: closed, whatever state it is in.
            l.discard();
            session.moveTo(ClientState.IDLE);
            throw e;
        }
        if (replay != null) {
            // Before the lease can be found lost: the journal then holds the run.
            replay.begin(b, first, sent, start, end);
        }
        l.attach(this, this, first);
        lease = l;
        if (!session.moveTo(ClientState.ACTIVE)) {
            // Closed while it waited: end() finds the backend and gives it back.
            throw new ClosedChannelException();
        }
        if (lostBlock.failOnLease(ahead != null ? 1 : 0)) {
            ByteBuffer abort = ByteBuffer.wrap(LossReplies.ABORTED_BLOCK);
            if (ahead == null) {
                b.sendAhead(abort, 1);
            } else {
                ByteBuffer sync = ahead.messages();
                ByteBuffer both = ByteBuffer.allocate(sync.remaining() + abort.remaining()).put(sync).put(abort).flip();
                b.sendAhead(both, 2);
            }
        } else if (ahead != null) {
            b.sendAhead(ahead.messages());
        }
        log.debug("{} leased {}", id, b.id());
        // Dead before it was attached, the reader found no one to tell: the loss is told now.
        b.tellLossIfGone();
        return l;
    }

    /**
     * Brings a backend to this client's session (the tracker says what to run). A batch is
     * returned, to leave in one write with the client's run: its values were tried on a backend
     * of this pool at login (startup values) or confirmed by one since (SETs, RESETs), so the
     * server takes them. Without a batch, values that came out differently than the client was
     * told are sent to it as ParameterStatus now; with one, when its replies are in.
     */
    private SessionTracker.Sync syncParameters(BackendConnection b) throws IOException {
        SessionTracker.Sync sync = tracker.syncFor(b.session());
        if (sync == null) {
            return null;
        }
        log.debug("{} parameters to set on {}{}: {}", id, b.id(), sync.reset() ? " after a reset" : "", sync.diff().keySet());
        tracker.synced(b.session(), sync);
        if (sync.batch() != null) {
            return sync;
        }
        sendCorrections(b);
        return null;
    }

    private void sendCorrections(BackendConnection b) throws IOException {
        Map<String, String> corrections = tracker.corrections(b.session());
        if (!corrections.isEmpty()) {
            MessageBuilder m = new MessageBuilder();
            corrections.forEach((k, v) -> m.bytes(new ParameterStatus(k, v).encode()));
            out.forward(ByteBuffer.wrap(m.toByteArray()), true);
        }
    }

    /**
     * The batch sent ahead of the client's run was answered. Values accepted before are refused
     * only if the server changed meanwhile; the client's run, already sent, then ran with the
     * backend as the previous client of this pool (the same user) left it, so the client is
     * told so and closed, and the backend is no longer taken to carry anyone's session.
     */
    @Override
    public void aheadAnswered(ErrorResponse error) {
        if (lostBlock.blockAnswered()) {
            // The hidden failing block: its error is the point.
            return;
        }
        BackendConnection b = backend();
        if (error == null) {
            if (b != null) {
                try {
                    sendCorrections(b);
                } catch (IOException e) {
                    log.debug("{} client write failed: {}", id, e.getMessage());
                }
            }
            return;
        }
        log.warn("{} the backend refused the session's parameters: {} {}", id, error.sqlState(), error.message());
        if (b != null) {
            b.session().reset(false);
        }
        if (!session.closing()) {
            session.terminate(ErrorResponse.fatal(error.sqlState(),
                    "the session's parameters could not be restored on a server connection: " + error.message()));
        }
    }

    /** Does what the tracker decided: pins counted and taken, backend state forgotten, statements dropped, a block refused. */
    private void carryOut(SessionTracker.Decision d) {
        if (d == SessionTracker.Decision.NONE) {
            return;
        }
        d.pins().forEach(pool.stats()::pinned);
        if (d.pinnedNow()) {
            session.moveTo(ClientState.PINNED);
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
        if (d.refuseBlock() && !session.closing()) {
            // As PgBouncer does: a transaction block would hold the backend past the statement.
            log.info("{} opened a transaction block in statement pooling mode, closing", id);
            session.terminate(ErrorResponse.fatal("0A000", "transaction blocks are not allowed in statement pooling mode")
                    .withHint("use transaction or session pooling for this client"));
        }
    }

    @Override
    public void forward(BackendConnection from, ByteBuffer run, boolean atBoundary) throws IOException {
        if (replay != null && !replay.relays(from, run)) {
            return;
        }
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
        return tracked;
    }

    /** A pinned session is told too (FATAL 08006 naming what it loses), rather than by the server's FATAL. */
    @Override
    public boolean survivesLoss() {
        return tracked;
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
        if (replay != null && replay.comparing()) {
            // A replayed answer the client already had: counted and decided on the first time.
            return;
        }
        long now = System.nanoTime();
        pool.stats().query((now - requestSentNanos) / 1000);
        long began = transactionStartNanos;
        if (status == TransactionStatus.IDLE && answeredAll && began != 0) {
            transactionStartNanos = 0;
            pool.stats().transaction((now - began) / 1000);
        }
        if (answeredAll) {
            commitInFlight = false;
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
            return tracked && movesNow();
        }
        Lease l = lease;
        if (l != null && tracker.unpinIfFree(l.backend().status())) {
            // DISCARD ALL or DEALLOCATE ALL removed what tied the session to this backend.
            log.info("{} unpinned: nothing ties it to its backend any more", id);
            session.moveTo(ClientState.ACTIVE);
            pool.stats().unpinned();
        }
        return tracker.pinned() == null && !session.closing();
    }

    /**
     * Session pooling on a cluster: whether the session, at a transaction boundary, leaves its
     * backend now, because the database is paused or the backend is to close (a switchover, a
     * reload, RECONNECT). It takes its next backend through the gate, with its state brought over.
     */
    private boolean movesNow() {
        Lease l = lease;
        if (l == null || session.closing() || tracker.pinned() != null || lostBlock.failing()
                || l.backend().status() != TransactionStatus.IDLE) {
            return false;
        }
        boolean moves = pool.gate().isPaused() || pool.retires(l.backend());
        if (moves) {
            pool.stats().sessionMoved();
        }
        return moves;
    }

    /** The lease ended at a settle: the backend holds exactly this client's changes, so it is asked for first next time. */
    @Override
    public void returned(Lease ended) {
        BackendConnection b = ended.backend();
        tracker.left(b.session());
        lastBackend = b;
        // IDLE before the lease is let go: the client's thread, seeing no lease, leases anew
        // from IDLE, never from the ACTIVE this settle is leaving.
        session.moveTo(ClientState.IDLE);
        lease = null;
        log.trace("{} returned {}", id, b.id());
    }

    /**
     * The backend died under this client. Where the client's protocol stream is whole (no reply
     * half relayed, no FATAL passed on) and its session holds nothing that lived only on that
     * backend, the session goes on: each request still owed an answer gets 08006 and a
     * ReadyForQuery; a transaction block that was open stays failed for the client, made so on
     * its next backend (a hidden block that fails), so that the server itself answers what follows
     * until the client's ROLLBACK, exactly as in any failed transaction. Otherwise the session ends.
     */
    @Override
    public void backendLost(BackendConnection lost, ErrorResponse fatal) {
        if (replay != null && replay.lostUnder(lost)) {
            // The replay's backend died too: the replay, waiting for its verdict, gives up.
            return;
        }
        if (backend() != lost) {
            return;
        }
        PinReason pin = tracker.pinned();
        // An untracked session (session mode on a single host) is not watched for state that
        // cannot move, so it cannot be told it has none: it ends with its backend.
        if (!tracked || fatal != null || pin != null || !lost.relayedWholeMessages() || session.closing()) {
            log.warn("{} backend {} lost{}", id, lost.id(), pin != null ? " with session state that lived on it: " + pin : "");
            pool.stats().sessionLost();
            if (fatal == null) {
                session.errorSent(LossReplies.code(commitInFlight));
                out.sendQuietly(LossReplies.sessionEnds(pin, commitInFlight));
            }
            session.close();
            return;
        }
        Lease l = lease;
        if (l != null) {
            l.lost(() -> {
                if (replay == null || !replay.replayed(lost, commitInFlight)) {
                    answerLoss(lost);
                }
            });
        }
    }

    /**
     * The session goes on after {@code lost} (under the lease's lock, see {@link Lease#lost}):
     * each request owed gets its error and ReadyForQuery, an open block stays failed for the
     * client, and the client is IDLE, without a lease, before it can read any of it and send more.
     */
    private void answerLoss(BackendConnection lost) {
        TransactionStatus before = lost.status();
        int owed = lost.owedToClient();
        // A COMMIT in flight ended the block whatever its outcome: nothing is left to roll back.
        boolean committing = owed > 0 && commitInFlight;
        boolean inBlock = before != TransactionStatus.IDLE && !committing;
        commitInFlight = false;
        log.warn("{} backend {} lost {}; the session goes on", id, lost.id(), committing ? "with a COMMIT in flight"
                : owed > 0 ? "with " + owed + " request(s) unanswered" : inBlock ? "inside a transaction block" : "between requests");
        if (owed > 0 || inBlock) {
            pool.stats().aborted();
        }
        pool.stats().sessionMoved();
        tracker.onError();
        TransactionStatus now = inBlock ? TransactionStatus.FAILED : TransactionStatus.IDLE;
        carryOut(tracker.onReadyForQuery(now, true, null));
        // A request begun and not ended by a Sync is told when the client goes on with it.
        requestCut = lost.requestPending();
        lostBlock.lost(inBlock, owed > 0);
        transactionStartNanos = 0;
        // IDLE before the client is told: once it reads the error it may send its next request,
        // which leases anew from IDLE. The lease is let go only after the answers are out, so a
        // run pipelined behind them waits in Lease.owe instead of overtaking them elsewhere.
        session.moveTo(ClientState.IDLE);
        if (owed > 0) {
            session.errorSent(LossReplies.code(committing));
            out.sendQuietly(LossReplies.answers(owed, committing, inBlock, now));
        } else if (inBlock) {
            out.sendQuietly(LossReplies.idleInBlockNotice());
        }
        lastBackend = null;
        lease = null;
    }

    /** Forwards a cancel to the backend running this client's query; nothing if none. */
    void cancel() {
        BackendConnection b = backend();
        if (b != null) {
            b.cancel();
        }
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

    /** The session ended: its lease, if any, is released (reset and kept) or, if its backend died, discarded. */
    void end() {
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
        if (editor != null) {
            editor.statements().clear();
        }
    }
}
