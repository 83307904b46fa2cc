package io.pgproxy.pool;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendException;
import io.pgproxy.backend.BackendTarget;
import io.pgproxy.buffer.BufferPool;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.TransactionStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Backend connections for one route. A permit per connection bounds the pool; the semaphore is
 * fair, so clients waiting for a backend are served first come, first served, each on its own
 * (virtual) thread with no extra waiter thread.
 */
public final class Pool {
    private static final Logger log = LoggerFactory.getLogger(Pool.class);

    private final String name;
    private final BackendTarget target;
    private final BufferPool buffers;
    private final Supplier<PoolSettings> settings;
    private final Semaphore permits;
    private final ConcurrentLinkedDeque<BackendConnection> idle = new ConcurrentLinkedDeque<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger leased = new AtomicInteger();
    private volatile Map<String, String> welcome;
    private volatile boolean retired;

    Pool(String name, BackendTarget target, BufferPool buffers, Supplier<PoolSettings> settings) {
        this.name = name;
        this.target = target;
        this.buffers = buffers;
        this.settings = settings;
        this.permits = new Semaphore(settings.get().maxSize(), true);
    }

    public String name() {
        return name;
    }

    public BackendTarget target() {
        return target;
    }

    /**
     * Leases a clean backend: an idle one if any, else a new one. Waits up to the wait timeout
     * for a permit. The caller must give it back with {@link #release} or {@link #discard}.
     */
    public BackendConnection acquire() throws IOException {
        // A retired pool still serves clients that logged in before the reload, so they never
        // notice it; it only stops keeping backends once they come back.
        PoolSettings s = settings.get();
        try {
            if (!permits.tryAcquire(s.waitTimeout().toNanos(), TimeUnit.NANOSECONDS)) {
                throw new PoolExhaustedException("no backend connection available for \"" + name
                        + "\" within " + s.waitTimeout().toMillis() + " ms (pool size " + s.maxSize() + ")");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PoolExhaustedException("interrupted while waiting for a backend");
        }
        try {
            BackendConnection c;
            while ((c = idle.pollFirst()) != null) {
                if (c.isClean() && !expired(c, s)) {
                    leased.incrementAndGet();
                    return c;
                }
                closeConnection(c);
            }
            c = BackendConnection.open(target, buffers);
            open.incrementAndGet();
            if (welcome == null) {
                welcome = Map.copyOf(c.parameters());
            }
            leased.incrementAndGet();
            return c;
        } catch (IOException | RuntimeException e) {
            permits.release();
            throw e;
        }
    }

    /**
     * Returns a backend after a client is done with it: rolled back if a transaction is open,
     * reset, and kept; or closed when its state is not known to be clean.
     */
    public void release(BackendConnection c) {
        leased.decrementAndGet();
        c.detach();
        PoolSettings s = settings.get();
        try {
            if (retired || !c.isSettled() || expired(c, s)) {
                closeConnection(c);
                return;
            }
            if (c.status() != TransactionStatus.IDLE) {
                ErrorResponse e = c.runInternal("ROLLBACK", s.internalQueryTimeout());
                if (e != null) {
                    log.info("{} rollback before reuse failed: {} {}", c.id(), e.sqlState(), e.message());
                    closeConnection(c);
                    return;
                }
            }
            if (!s.resetQuery().isEmpty()) {
                ErrorResponse e = c.runInternal(s.resetQuery(), s.internalQueryTimeout());
                if (e != null) {
                    log.info("{} reset query failed: {} {}", c.id(), e.sqlState(), e.message());
                    closeConnection(c);
                    return;
                }
            }
            if (!c.isClean()) {
                closeConnection(c);
                return;
            }
            c.assumedParameters().clear();
            c.markReleased();
            idle.offerFirst(c);
        } catch (IOException e) {
            log.info("{} reset failed, closing: {}", c.id(), e.getMessage());
            closeConnection(c);
        } finally {
            permits.release();
        }
    }

    /**
     * Returns a backend between transactions (transaction pooling): no reset, since the next
     * client's session state is brought over as a diff; closed unless it is clean.
     */
    public void returnIdle(BackendConnection c) {
        leased.decrementAndGet();
        c.detach();
        if (!retired && c.isReleasable() && !expired(c, settings.get())) {
            c.markReleased();
            idle.offerFirst(c);
        } else {
            closeConnection(c);
        }
        permits.release();
    }

    /** Closes a leased backend that must not be reused. */
    public void discard(BackendConnection c) {
        leased.decrementAndGet();
        c.detach();
        closeConnection(c);
        permits.release();
    }

    /** The ParameterStatus set a new client is greeted with: a backend's, learned once per pool. */
    public Map<String, String> welcomeParameters() throws IOException {
        Map<String, String> w = welcome;
        if (w == null) {
            release(acquire());
            w = welcome;
        }
        return w;
    }

    /** Closes idle backends past the idle timeout or lifetime; called by the janitor. */
    public void evictIdle() {
        PoolSettings s = settings.get();
        long now = System.nanoTime();
        for (BackendConnection c : idle) {
            boolean idleTooLong = now - c.lastReleasedNanos() > s.serverIdleTimeout().toNanos();
            if ((retired || c.isClosed() || idleTooLong || expired(c, s)) && idle.remove(c)) {
                closeConnection(c);
            }
        }
    }

    /** Stops handing out backends; idle ones close now, leased ones when they come back. */
    public void retire() {
        retired = true;
        evictIdle();
    }

    public boolean isRetired() {
        return retired;
    }

    public int openConnections() {
        return open.get();
    }

    public int leasedConnections() {
        return leased.get();
    }

    public int idleConnections() {
        return idle.size();
    }

    /** Closes every idle backend (shutdown). */
    public void closeIdle() {
        BackendConnection c;
        while ((c = idle.pollFirst()) != null) {
            closeConnection(c);
        }
    }

    private static boolean expired(BackendConnection c, PoolSettings s) {
        return System.nanoTime() - c.createdNanos() > s.serverLifetime().toNanos();
    }

    private void closeConnection(BackendConnection c) {
        c.close();
        open.decrementAndGet();
    }
}
