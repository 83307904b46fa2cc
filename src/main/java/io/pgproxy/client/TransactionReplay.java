package io.pgproxy.client;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.RequestRun;
import io.pgproxy.pool.Lease;
import io.pgproxy.pool.Pool;
import io.pgproxy.pool.ReplayRefusal;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.SessionTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Transaction replay for one client session (opted in per database, where the session's state
 * is followed: transaction pooling, session pooling on a cluster): keeps
 * the running transaction in a {@link TransactionJournal} as it is sent and relayed, and when its
 * backend dies before COMMIT was sent, runs it again on a new backend of the pool, hiding the
 * replayed replies the client already had and checking them ({@link ReplayCheck}). The client
 * carries on when they match; otherwise the replay backend is closed and the loss is answered as
 * without replay. Replay is Oracle Application Continuity's idea on the PostgreSQL protocol.
 */
final class TransactionReplay {
    private static final Logger log = LoggerFactory.getLogger(TransactionReplay.class);
    /** Backends a replay is tried on when the one before died under it. */
    private static final int ATTEMPTS = 2;

    private final String id;
    private final Pool pool;
    private final TransactionJournal journal;
    private final Supplier<Duration> timeout;
    private final BackendLink link;
    /** A replay whose replies are being compared with what the client saw; null otherwise. */
    private volatile ReplayCheck check;
    /** The backend of the last replay given up: whatever it still sends is not for the client. */
    private volatile BackendConnection abandoned;

    TransactionReplay(String id, Pool pool, TransactionJournal journal, Supplier<Duration> timeout, BackendLink link) {
        this.id = id;
        this.pool = pool;
        this.journal = journal;
        this.timeout = timeout;
        this.link = link;
    }

    /** The first run of a new lease on {@code b}: a transaction starts with it. */
    void begin(BackendConnection b, RequestRun first, ByteBuffer sent, int start, int end) {
        journal.begin(b);
        journal.record(first, sent, start, end);
    }

    /** Owes {@code run} on {@code l} and records it under the lease's lock, so a loss finds exactly what was owed. */
    boolean owe(Lease l, RequestRun run, ByteBuffer sent, int start, int end) {
        BackendConnection b = l.backend();
        return l.owe(run, () -> {
            if (b.outstanding() == 0 && b.status() == TransactionStatus.IDLE) {
                // Between transactions: this run starts the next.
                journal.begin(b);
            }
            journal.record(run, sent, start, end);
        });
    }

    /**
     * Bytes from {@code from} on their way to the client: hashed, and, from a replay still being
     * compared, the part the client already had is taken off. False when nothing is left to
     * relay. Throws when nothing of {@code from} may reach the client any more, which detaches it.
     */
    boolean relays(BackendConnection from, ByteBuffer run) throws IOException {
        ReplayCheck c = check;
        if (c != null && c.backend() == from) {
            if (!c.check(run, journal)) {
                throw new IOException("the replayed transaction answered differently");
            }
        } else if (from == abandoned) {
            throw new IOException("a replay given up");
        }
        if (!run.hasRemaining()) {
            return false;
        }
        journal.replied(from, run);
        return true;
    }

    /** Whether replayed replies are being compared: they were counted and acted on the first time. */
    boolean comparing() {
        ReplayCheck c = check;
        return c != null && c.comparing();
    }

    /** Whether {@code lost} is the backend a replay runs on: the replay, waiting for its verdict, gives up. */
    boolean lostUnder(BackendConnection lost) {
        ReplayCheck c = check;
        return c != null && c.backend() == lost && c.lost();
    }

    /**
     * Under the lost lease's lock (so the client's next run waits for the outcome): the running
     * transaction, if the journal says it may be, is sent again on a new backend with the
     * session brought there. True when every reply the client had came again byte for byte and
     * the client carries on there; false when the loss is to be answered as without replay.
     */
    boolean replayed(BackendConnection lost, boolean commitInFlight) {
        if (lost.owedToClient() == 0 && lost.status() == TransactionStatus.IDLE) {
            return false;
        }
        // A COMMIT about to be owed (the client's thread waits on the lease) was never sent: the
        // transaction is replayed, and the COMMIT goes to the replay's backend.
        ReplayRefusal why = commitInFlight && lost.owedToClient() > 0 ? ReplayRefusal.COMMIT : journal.refusal(lost);
        if (why != null) {
            log.info("{} transaction on {} not replayed: {}", id, lost.id(), why.label());
            pool.stats().replayRefused(why);
            return false;
        }
        pool.stats().replayed();
        long began = System.nanoTime();
        long expectedBytes = journal.repliedBytes();
        long expectedCrc = journal.repliesCrc();
        ReplayCheck.Verdict verdict = ReplayCheck.Verdict.LOST;
        // A backend that dies under the replay before anything of it is known, or one that
        // cannot be had, is tried once more: what killed the first often killed the pool's idle
        // backends and the connections being opened too.
        for (int attempt = 1; attempt <= ATTEMPTS && verdict == ReplayCheck.Verdict.LOST; attempt++) {
            Lease next;
            try {
                next = pool.acquire(null);
            } catch (IOException | RuntimeException e) {
                if (attempt < ATTEMPTS) {
                    log.info("{} no backend for the replay of the transaction lost with {} ({}); trying again",
                            id, lost.id(), e.getMessage());
                    continue;
                }
                log.warn("{} transaction on {} not replayed: no backend ({})", id, lost.id(), e.getMessage());
                pool.stats().replayRefused(ReplayRefusal.NO_BACKEND);
                journal.drop(ReplayRefusal.NO_BACKEND);
                return false;
            }
            ReplayCheck c = journal.replayOn(next.backend(), expectedBytes, expectedCrc);
            verdict = replayOn(next, c);
            // Only on a match: a run of the client's that found this lease before the verdict
            // would be owed on a backend that may yet be given up, and never answered.
            if (verdict == ReplayCheck.Verdict.MATCH) {
                // The check is dropped with the adoption: a loss of this backend waits for both,
                // then may start the next replay, whose check must not be dropped by this one.
                c.adopt(() -> {
                    check = null;
                    link.adoptReplayLease(next);
                });
                pool.stats().replayMatched();
                pool.stats().sessionMoved();
                log.info("{} transaction lost with {} replayed on {} in {} ms; every reply matched, the client goes on",
                        id, lost.id(), next.backend().id(), (System.nanoTime() - began) / 1_000_000);
                return true;
            }
            // Guarded before the check is dropped: nothing more of this backend reaches the client.
            abandoned = next.backend();
            check = null;
            next.discard();
        }
        ReplayRefusal refusal = switch (verdict) {
            case MISMATCH -> ReplayRefusal.MISMATCH;
            case TIMEOUT -> ReplayRefusal.TIMEOUT;
            default -> ReplayRefusal.LOST;
        };
        log.info("{} replay of the transaction lost with {} given up after {} ms: {}", id, lost.id(),
                (System.nanoTime() - began) / 1_000_000, refusal.label());
        pool.stats().replayRefused(refusal);
        journal.drop(refusal);
        return false;
    }

    /** Sends the journal's transaction on {@code next}'s backend, with the session brought there, and waits for the verdict. */
    private ReplayCheck.Verdict replayOn(Lease next, ReplayCheck c) {
        BackendConnection b = next.backend();
        try {
            SessionTracker.Sync ahead = link.bringForReplay(b);
            RequestRun[] runs = journal.runs();
            check = c;
            next.attach(link, link, runs[0]);
            for (int i = 1; i < runs.length; i++) {
                next.owe(runs[i]);
            }
            if (ahead != null) {
                b.sendAhead(ahead.messages());
            }
            b.send(journal.requests());
            // Dead before it was attached, the reader found no one to tell.
            b.tellLossIfGone();
            if (c.nothingToCompare()) {
                c.decide(ReplayCheck.Verdict.MATCH);
            }
            return c.await(timeout.get());
        } catch (IOException | RuntimeException e) {
            log.info("{} replay on {} failed: {}", id, b.id(), e.getMessage());
            c.decide(ReplayCheck.Verdict.LOST);
            // A MATCH that came first stands: the lease is adopted, and its loss handled as the client's.
            return c.verdict();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            c.decide(ReplayCheck.Verdict.TIMEOUT);
            return ReplayCheck.Verdict.TIMEOUT;
        }
    }
}
