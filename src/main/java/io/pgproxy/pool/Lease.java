package io.pgproxy.pool;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendLease;
import io.pgproxy.backend.BackendSink;
import io.pgproxy.backend.RequestRun;

import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One backend handed to one client: the connection, the pool permit it holds and the client it
 * serves, with one method per transition. The race a transaction pool must get right — the
 * client sending its next request while the backend's reader decides the last one settled the
 * lease — is decided here, under one lock: a request is recorded as owed only on a lease that
 * is still on, and a lease ends at a settle only when nothing is owed.
 */
public final class Lease implements BackendLease {
    /** Where a lease is; it only moves forward. */
    public enum State {
        /** Acquired from the pool; the client is bringing the backend to its session. */
        ACQUIRED,
        /** Relaying the client's requests. */
        ATTACHED,
        /** Over: the backend went back to the pool or was closed. */
        ENDED
    }

    private final Pool pool;
    private final BackendConnection backend;
    private final Semaphore permit;
    private final long startNanos = System.nanoTime();
    private final ReentrantLock lock = new ReentrantLock();
    private volatile State state = State.ACQUIRED;
    private LeaseHolder holder;

    Lease(Pool pool, BackendConnection backend, Semaphore permit) {
        this.pool = pool;
        this.backend = backend;
        this.permit = permit;
    }

    public BackendConnection backend() {
        return backend;
    }

    public State state() {
        return state;
    }

    /** When the lease began (System.nanoTime). */
    public long startNanos() {
        return startNanos;
    }

    Semaphore permit() {
        return permit;
    }

    /** The one way the lease's state changes; callers hold the lock. */
    private void moveTo(State next) {
        if (next.ordinal() <= state.ordinal()) {
            throw new IllegalStateException(backend.id() + ": lease cannot move from " + state + " to " + next);
        }
        state = next;
    }

    /**
     * The backend now relays to {@code sink}, and settles to this lease on behalf of
     * {@code holder}; {@code first} is what the run it was leased for owes, recorded in the same
     * step: the backend's reader may still be reporting the settle of the hidden sync query, and
     * that settle must not end a lease whose first request is on its way.
     */
    public void attach(BackendSink sink, LeaseHolder holder, RequestRun first) {
        lock.lock();
        try {
            moveTo(State.ATTACHED);
            this.holder = holder;
            backend.attach(sink, this);
            backend.owe(first);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Records what the run about to be sent makes the backend owe, if the lease is still on.
     * False when it ended at a settle meanwhile: the caller leases anew and sends there.
     */
    public boolean owe(RequestRun run) {
        return owe(run, null);
    }

    /**
     * As {@link #owe(RequestRun)}, running {@code first} (when not null) under the same lock just
     * before the run is owed: the client's record of what it sent (transaction replay) is then
     * exactly what a loss handled under this lock finds owed.
     */
    public boolean owe(RequestRun run, Runnable first) {
        lock.lock();
        try {
            if (state != State.ATTACHED) {
                return false;
            }
            if (first != null) {
                first.run();
            }
            backend.owe(run);
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void settled() {
        lock.lock();
        try {
            if (state != State.ATTACHED || !holder.mayReturnAtSettle() || backend.readiness() != BackendConnection.Readiness.READY) {
                return;
            }
            moveTo(State.ENDED);
            holder.returned(this);
            pool.returnIdle(this);
        } finally {
            lock.unlock();
        }
    }

    /** The client is done with the backend (session end): reset and kept, or closed. */
    public void release() {
        if (end()) {
            pool.release(this);
        }
    }

    /**
     * The backend died under the holder: the lease ends and {@code answer} tells the client what
     * became of what it owed, under the lock {@link #owe} takes. A run is thus either owed before
     * (and answered by {@code answer}) or refused after, when its client leases anew.
     */
    public void lost(Runnable answer) {
        lock.lock();
        try {
            if (state == State.ENDED) {
                return;
            }
            moveTo(State.ENDED);
            // The permit first: answering may lease anew from this pool (a replay), and a full
            // pool would otherwise wait on the permit the dead backend still holds.
            pool.discard(this);
            answer.run();
        } finally {
            lock.unlock();
        }
    }

    /** Closes a backend that must not be reused. */
    public void discard() {
        if (end()) {
            pool.discard(this);
        }
    }

    private boolean end() {
        lock.lock();
        try {
            if (state == State.ENDED) {
                return false;
            }
            moveTo(State.ENDED);
            return true;
        } finally {
            lock.unlock();
        }
    }
}
