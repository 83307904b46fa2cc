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
    /** The client holds the replay's lease: a loss of its backend is the client's like any other. */
    private boolean adopted;

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

    /**
     * The replay's backend died. True when that is the replay's to handle: before a verdict
     * (which is then LOST), or after one that gives the replay up. After a MATCH the lease is
     * the client's, so this waits until it holds it ({@link #adopt}) and returns false: the
     * loss is then handled as any loss of the client's backend, never dropped between the two.
     */
    synchronized boolean lost() {
        decide(Verdict.LOST);
        if (verdict != Verdict.MATCH) {
            return true;
        }
        while (!adopted) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    /** After a MATCH: runs {@code adopt} (the client takes the replay's lease) under the lock {@link #lost} waits on. */
    synchronized void adopt(Runnable adopt) {
        adopt.run();
        adopted = true;
        notifyAll();
    }

    Verdict verdict() {
        return verdict;
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
