package io.pgproxy.pool;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntSupplier;

/**
 * Counts backend connections against a limit shared by several pools (all pools of one
 * database, or of one backend user). The limit is read on every check, so a reload changes it
 * in place; zero means no limit.
 */
final class ConnectionBudget {
    private final IntSupplier limit;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition freed = lock.newCondition();
    private int used;

    ConnectionBudget(IntSupplier limit) {
        this.limit = limit;
    }

    boolean tryTake() {
        lock.lock();
        try {
            int max = limit.getAsInt();
            if (max > 0 && used >= max) {
                return false;
            }
            used++;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until a connection may be opened or the deadline passes. */
    boolean take(long deadlineNanos) throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                int max = limit.getAsInt();
                if (max <= 0 || used < max) {
                    used++;
                    return true;
                }
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                freed.await(left, TimeUnit.NANOSECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    void give() {
        lock.lock();
        try {
            used--;
            freed.signal();
        } finally {
            lock.unlock();
        }
    }

    int used() {
        lock.lock();
        try {
            return used;
        } finally {
            lock.unlock();
        }
    }
}
