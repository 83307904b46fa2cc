package io.pgproxy.client;

import io.pgproxy.backend.BackendConnection;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One replay's verdict: the replayed transaction's first replies, as many bytes as the client
 * had received from the lost backend, are hashed instead of relayed; the same CRC over the same
 * length lets the client carry on, anything else (including fewer bytes before the replay was
 * answered in full) means the server now answers differently. Decided on the replay backend's
 * reader thread; awaited by the thread handling the loss.
 */
final class ReplayCheck {
    enum Verdict { MATCH, MISMATCH, LOST, TIMEOUT }

    private final BackendConnection backend;
    private final long expectedBytes;
    private final long expectedCrc;
    private final CountDownLatch decided = new CountDownLatch(1);
    private volatile Verdict verdict;

    ReplayCheck(BackendConnection backend, long expectedBytes, long expectedCrc) {
        this.backend = backend;
        this.expectedBytes = expectedBytes;
        this.expectedCrc = expectedCrc;
    }

    BackendConnection backend() {
        return backend;
    }

    /** Nothing was received before the loss: nothing to compare, the replay goes on as it comes. */
    boolean nothingToCompare() {
        return expectedBytes == 0;
    }

    /**
     * Takes the part of {@code run} (from the replay backend) the client already saw into the
     * journal's hash and moves past it; what is left of {@code run} is new to the client. False
     * once the replay differs: nothing of it may reach the client.
     */
    boolean check(ByteBuffer run, TransactionJournal journal) {
        Verdict v = verdict;
        if (v != null) {
            return v == Verdict.MATCH;
        }
        long left = expectedBytes - journal.repliedBytes();
        int n = (int) Math.min(run.remaining(), left);
        if (n > 0) {
            journal.hash(run, n);
            left -= n;
        }
        if (left == 0) {
            decide(journal.repliesCrc() == expectedCrc ? Verdict.MATCH : Verdict.MISMATCH);
        } else if (backend != null && backend.outstanding() <= 0) {
            // Every replayed request is answered, in fewer bytes than the client had.
            decide(Verdict.MISMATCH);
        }
        Verdict now = verdict;
        return now == null || now == Verdict.MATCH;
    }

    /** Whether the verdict is still to come: the replies are being compared. */
    boolean comparing() {
        return verdict == null;
    }

    synchronized void decide(Verdict v) {
        if (verdict == null) {
            verdict = v;
            decided.countDown();
        }
    }

    /** The verdict, waiting for it at most {@code timeout}. */
    Verdict await(Duration timeout) throws InterruptedException {
        if (!decided.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            decide(Verdict.TIMEOUT);
        }
        return verdict;
    }
}
