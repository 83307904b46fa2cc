package io.pgproxy.pool;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The permits that bound one pool, and the clients waiting for them. The semaphores are fair,
 * so waiting clients are served first come, first served, each on its own (virtual) thread with
 * no extra waiter thread, and a release hands its permit straight to the longest waiter. A
 * client that has waited the reserve timeout may take a permit from the reserve instead.
 */
final class PoolPermits {
    private static final Logger log = LoggerFactory.getLogger(PoolPermits.class);

    private final String name;
    private final Semaphore permits;
    private final Semaphore reserve;
    private final int size;
    private final int reserveSize;
    private final Runnable timedOut;
    /** In arrival order: the semaphore is fair, so the one leaving is nearly always at the head. */
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();

    PoolPermits(String name, int size, int reserveSize, Runnable timedOut) {
        this.name = name;
        this.permits = new Semaphore(size, true);
        this.reserve = new Semaphore(reserveSize, true);
        this.size = size;
        this.reserveSize = reserveSize;
        this.timedOut = timedOut;
    }

    /** A pooled permit if one is free now, for pre-warming; the caller gives it back. */
    boolean tryTakePooled() {
        return permits.tryAcquire();
    }

    void givePooled() {
        permits.release();
    }

    /** Every permit is back: nothing leased and nothing being leased. */
    boolean allBack() {
        return permits.availablePermits() >= size && reserve.availablePermits() >= reserveSize;
    }

    /** Clients waiting for a permit right now. */
    int waiting() {
        return permits.getQueueLength() + reserve.getQueueLength();
    }

    /**
     * A client waiting for a backend without a reserve to fall back on. It parks untimed: a
     * timed park costs a timer-queue insertion and removal per wait, and in transaction pooling
     * under load nearly every transaction waits. The janitor enforces the deadline instead
     * ({@link #expireWaiters}), at its own tick's resolution.
     */
    private static final class Waiter {
        static final int WAITING = 0;
        static final int DONE = 1;
        static final int EXPIRED = 2;

        final Thread thread = Thread.currentThread();
        final long deadline;
        final AtomicInteger state = new AtomicInteger(WAITING);

        Waiter(long deadline) {
            this.deadline = deadline;
        }
    }


    /** Janitor work: interrupts the waits that passed their deadline; they end with 53300. */
    void expireWaiters(long nowNanos) {
        for (Waiter w : waiters) {
            if (nowNanos - w.deadline >= 0 && w.state.compareAndSet(Waiter.WAITING, Waiter.EXPIRED)) {
                w.thread.interrupt();
            }
        }
    }

    /** A permit for a new lease, waiting as the settings say; 53300 when none came in time. */
    Semaphore take(PoolSettings s, long start, long deadline) throws PoolExhaustedException {
        try {
            // Timed, with no time: unlike tryAcquire(), it keeps the queue's order.
            if (permits.tryAcquire(0, TimeUnit.NANOSECONDS)) {
                return permits;
            }
            if (s.reserveSize() == 0 && !s.waitTimeout().isZero()) {
                return waitForPermit(s, deadline);
            }
            long untilReserve = s.reserveSize() > 0 ? Math.min(deadline, start + s.reserveTimeout().toNanos()) : deadline;
            if (permits.tryAcquire(Math.max(0, untilReserve - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                return permits;
            }
            if (s.reserveSize() > 0) {
                if (reserve.tryAcquire()) {
                    log.info("pool \"{}\": a client waited {} ms, using the reserve", name,
                            (System.nanoTime() - start) / 1_000_000);
                    return reserve;
                }
                if (permits.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    return permits;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PoolExhaustedException("interrupted while waiting for a backend");
        }
        throw timedOut(s);
    }

    /** Waits untimed; the janitor interrupts it past the deadline, which ends in {@link #timedOut}. */
    private Semaphore waitForPermit(PoolSettings s, long deadline) throws InterruptedException, PoolExhaustedException {
        Waiter w = new Waiter(deadline);
        waiters.add(w);
        try {
            permits.acquire();
            if (!w.state.compareAndSet(Waiter.WAITING, Waiter.DONE)) {
                // The janitor expired this wait just as the permit came: its interrupt is on
                // the way. Take it, so it cannot break the client's next blocking read.
                while (!Thread.interrupted()) {
                    Thread.onSpinWait();
                }
            }
            return permits;
        } catch (InterruptedException e) {
            if (w.state.get() != Waiter.EXPIRED) {
                throw e;
            }
            throw timedOut(s);
        } finally {
            waiters.remove(w);
        }
    }

    PoolExhaustedException timedOut(PoolSettings s) {
        timedOut.run();
        return new PoolExhaustedException("no backend connection available for \"" + name
                + "\" within " + s.waitTimeout().toMillis() + " ms (pool size " + s.maxSize() + ")");
    }
}
