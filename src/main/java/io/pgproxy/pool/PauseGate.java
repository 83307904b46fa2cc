package io.pgproxy.pool;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The admin console's PAUSE: while a gate is closed, new leases wait at it instead of taking a
 * backend; leases already made run to their end. One gate per database, each a child of the
 * proxy-wide one, so {@code PAUSE} and {@code PAUSE db} compose. An open gate costs a lease one
 * or two volatile reads; every wait and wake-up happens only while something is paused.
 *
 * <p>All gates of a tree share one lock and condition: pause and resume are rare, and a resume of
 * the proxy-wide gate must wake waiters at every database's gate.
 */
public final class PauseGate {
    /**
     * How often a drain wait looks again without a wake-up: a lease that fails after taking its
     * permit gives it back without telling the gate.
     */
    private static final long RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final PauseGate parent;
    private final ReentrantLock lock;
    private final Condition changed;
    private volatile boolean paused;

    private PauseGate(PauseGate parent) {
        this.parent = parent;
        this.lock = parent == null ? new ReentrantLock() : parent.lock;
        this.changed = parent == null ? lock.newCondition() : parent.changed;
    }

    /** A proxy-wide gate, open. */
    public static PauseGate root() {
        return new PauseGate(null);
    }

    /** A gate that is closed while this one or itself is paused. */
    public PauseGate child() {
        return new PauseGate(this);
    }

    /** Closed by itself or by its parent. */
    public boolean isPaused() {
        return paused || (parent != null && parent.paused);
    }

    /** Closed by itself, regardless of its parent. */
    public boolean isPausedItself() {
        return paused;
    }

    /** Closes the gate; returns false if it was closed already. */
    public boolean pause() {
        return set(true);
    }

    /** Opens the gate and wakes its waiters; returns false if it was open already. */
    public boolean resume() {
        return set(false);
    }

    private boolean set(boolean value) {
        lock.lock();
        try {
            if (paused == value) {
                return false;
            }
            paused = value;
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits while the gate is closed, up to {@code deadlineNanos} (System.nanoTime); false when
     * the deadline passed first.
     */
    boolean awaitOpen(long deadlineNanos) throws InterruptedException {
        lock.lock();
        try {
            while (isPaused()) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** A lease ended: a PAUSE may be waiting for the last one. */
    void released() {
        if (isPaused()) {
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Waits until {@code done} holds or {@code giveUp} does (the waiting console left, say),
     * looking again at each wake-up and at least every {@link #RECHECK_NANOS}. Returns whether
     * {@code done} held.
     */
    public boolean awaitUntil(BooleanSupplier done, BooleanSupplier giveUp) throws InterruptedException {
        lock.lock();
        try {
            while (!done.getAsBoolean()) {
                if (giveUp.getAsBoolean()) {
                    return false;
                }
                changed.awaitNanos(RECHECK_NANOS);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }
}
