package io.pgproxy.client;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.RequestRun;
import io.pgproxy.pool.ReplayRefusal;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The transaction a client is running, kept so that it can run again on another backend if its
 * own dies before COMMIT (transaction replay): the request bytes sent, run by run, and a running
 * CRC-32C of every reply byte relayed to the client from that backend. Replay is refused, with
 * the reason kept, as soon as the transaction holds something a second run could not repeat
 * exactly or could apply twice: a first statement other than BEGIN, a statement that ends or
 * controls the block, several statements in one text, session state (SET, pins), renamed
 * prepared statements, or more than the bounds.
 *
 * <p>Requests are recorded under the lease's lock with the run they owe, so the handling of a
 * lost backend, which takes that lock, sees exactly what was owed on it. Replies are hashed on
 * the backend's reader thread, the thread that also reports its loss.
 */
final class TransactionJournal {
    /** A journal past this many bytes gives its array back when its transaction is over or refused. */
    private static final int KEPT_CAPACITY = 4096;
    private static final byte[] EMPTY = new byte[0];

    private final int maxBytes;
    private final int maxStatements;
    /** The backend whose replies are hashed; the transaction's. */
    private volatile BackendConnection backend;
    private byte[] requests = EMPTY;
    private int length;
    private RequestRun[] runs = new RequestRun[4];
    private int runCount;
    private int statements;
    private final CRC32C replies = new CRC32C();
    private long replied;
    private volatile ReplayRefusal refusal;

    TransactionJournal(int maxBytes, int maxStatements) {
        this.maxBytes = maxBytes;
        this.maxStatements = maxStatements;
    }

    /** A transaction starts on {@code b}: nothing of the last one is kept. */
    void begin(BackendConnection b) {
        backend = b;
        forgetRequests();
        statements = 0;
        replies.reset();
        replied = 0;
        refusal = null;
    }

    /** Whether the journal's transaction is the one running on {@code b}. */
    boolean follows(BackendConnection b) {
        return backend == b;
    }

    /**
     * A run about to be sent: its bytes are {@code [start, end)} of {@code buffer}, or
     * {@code buffer} is null when the proxy edited them (prepared statements renamed).
     */
    void record(RequestRun run, ByteBuffer buffer, int start, int end) {
        if (refusal != null) {
            return;
        }
        ReplayRefusal why = null;
        if (buffer == null) {
            why = ReplayRefusal.PREPARED_STATEMENTS;
        } else if (runCount == 0 && !run.opensBlock()) {
            // Without a block open from the start, a statement may have committed on its own.
            why = ReplayRefusal.NO_BEGIN;
        } else if (run.mayCommit()) {
            why = ReplayRefusal.COMMIT;
        } else if (runCount > 0 && run.opensBlock() || run.unreplayable()) {
            why = ReplayRefusal.STATEMENT;
        } else if (run.pin() != null || !run.sets().isEmpty() || !run.resets().isEmpty()) {
            why = ReplayRefusal.SESSION_STATE;
        } else if ((long) length + (end - start) > maxBytes || statements + run.statements() > maxStatements) {
            why = ReplayRefusal.TOO_LARGE;
        }
        if (why != null) {
            refuse(why);
            return;
        }
        int n = end - start;
        if (length + n > requests.length) {
            requests = Arrays.copyOf(requests, Math.min(maxBytes, Math.max(256, Math.max(length + n, requests.length * 2))));
        }
        buffer.get(start, requests, length, n);
        length += n;
        statements += run.statements();
        if (runCount == runs.length) {
            runs = Arrays.copyOf(runs, runCount * 2);
        }
        runs[runCount++] = run;
    }

    private void refuse(ReplayRefusal why) {
        refusal = why;
        forgetRequests();
    }

    /** Drops the recorded runs; the request array is kept unless it grew large. */
    private void forgetRequests() {
        if (requests.length > KEPT_CAPACITY) {
            requests = EMPTY;
        }
        Arrays.fill(runs, 0, runCount, null);
        length = 0;
        runCount = 0;
    }

    /** Bytes relayed to the client from {@code from}: hashed if they are the transaction's. Position unchanged. */
    void replied(BackendConnection from, ByteBuffer run) {
        if (from == backend && refusal == null) {
            int p = run.position();
            replied += run.remaining();
            replies.update(run);
            run.position(p);
        }
    }

    /** Hashes the next {@code n} bytes of {@code run} as relayed, and moves past them. */
    void hash(ByteBuffer run, int n) {
        int limit = run.limit();
        run.limit(run.position() + n);
        replies.update(run);
        run.limit(limit);
        replied += n;
    }

    long repliedBytes() {
        return replied;
    }

    long repliesCrc() {
        return replies.getValue();
    }

    /**
     * Why the transaction cannot be run again now that {@code lost} died under it, or null when
     * it can: it is the one the journal holds and nothing in it stood against replay.
     */
    ReplayRefusal refusal(BackendConnection lost) {
        ReplayRefusal r = refusal;
        if (r != null) {
            return r;
        }
        return backend != lost || runCount == 0 ? ReplayRefusal.NO_BEGIN : null;
    }

    /**
     * The replay starts on {@code to}: what the client saw ({@code expectedBytes} bytes whose
     * CRC is {@code expectedCrc}, the journal's figures when the loss was found) is checked
     * against the replies to come from there, hashed afresh. Returns the check; the requests to send are {@link #requests()}.
     */
    ReplayCheck replayOn(BackendConnection to, long expectedBytes, long expectedCrc) {
        ReplayCheck check = new ReplayCheck(to, expectedBytes, expectedCrc);
        backend = to;
        replies.reset();
        replied = 0;
        return check;
    }

    /** The transaction's requests, as sent. */
    ByteBuffer requests() {
        return ByteBuffer.wrap(requests, 0, length);
    }

    RequestRun[] runs() {
        return Arrays.copyOf(runs, runCount);
    }

    /** Forgets the transaction: it is not to be replayed again. */
    void drop(ReplayRefusal why) {
        refuse(why);
    }
}
