package io.pgproxy.pool;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendConnector;
import io.pgproxy.backend.BackendException;
import io.pgproxy.config.HostAddress;
import io.pgproxy.backend.BackendState;
import io.pgproxy.backend.BackendTarget;
import io.pgproxy.buffer.BufferPool;
import io.pgproxy.session.ReplyClock;
import io.pgproxy.session.StatementCounters;
import io.pgproxy.session.AcceptedParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * Backend connections for one route. A permit per leased connection bounds the pool; the
 * semaphores are fair, so clients waiting for a backend are served first come, first served,
 * each on its own (virtual) thread with no extra waiter thread. A client that has waited the
 * reserve timeout may take a permit from the reserve instead. Opening a connection also takes
 * from the database's and the user's budgets, which span pools.
 */
public final class Pool {
    private static final Logger log = LoggerFactory.getLogger(Pool.class);

    private final String name;
    private final BackendTarget target;
    /** Which server {@link #target}'s login goes to: the database's host, or its cluster's primary now. */
    private final PrimarySource hosts;
    private final BufferPool buffers;
    private final ReplyClock clock;
    /** Replaced by a reload; read once per operation, not rebuilt. */
    private volatile PoolSettings settings;
    private final PoolBudgets budgets;
    private final PoolPermits permits;
    /** Leases not yet ended; each holds its permit ({@link Lease}). */
    private final AtomicInteger leasedCount = new AtomicInteger();
    private final ConcurrentLinkedDeque<BackendConnection> idle = new ConcurrentLinkedDeque<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicBoolean warming = new AtomicBoolean();
    private final LongAdder acquired = new LongAdder();
    private final LongAdder timeouts = new LongAdder();
    private final StatementCounters statementCounters = new StatementCounters();
    private final PoolStats stats = new PoolStats();
    /** Startup parameter sets this pool's backends have taken; as many as the proxy interns. */
    private final AcceptedParameters acceptedParameters = new AcceptedParameters(4096);
    /** Every open backend of this pool, whatever its state: what SHOW SERVERS lists. */
    private final java.util.Set<BackendConnection> connections = ConcurrentHashMap.newKeySet();
    private volatile Map<String, String> welcome;
    private volatile boolean retired;
    /** PAUSE: closed, it holds new leases back (admin console). */
    private final PauseGate gate;
    /** RECONNECT: backends created before this (System.nanoTime) are closed when they come back; 0 = none. */
    private volatile long reconnectBefore;

    Pool(String name, BackendTarget target, PrimarySource hosts, BufferPool buffers, ReplyClock clock, PoolSettings settings,
         ConnectionBudget databaseBudget, ConnectionBudget userBudget, BooleanSupplier evictElsewhere,
         PauseGate gate) {
        this.name = name;
        this.target = target;
        this.hosts = hosts;
        this.buffers = buffers;
        this.clock = clock;
        this.settings = settings;
        this.budgets = new PoolBudgets(name, databaseBudget, userBudget, evictElsewhere, timeouts::increment);
        PoolSettings s = settings;
        this.permits = new PoolPermits(name, s.maxSize(), s.reserveSize(), timeouts::increment);
        this.gate = gate;
    }

    /** Applies reloaded settings; the pool's size and reserve stay as created. */
    void settings(PoolSettings next) {
        this.settings = next;
    }

    public String name() {
        return name;
    }

    /** The settings now in force (replaced by a reload). */
    public PoolSettings settings() {
        return settings;
    }

    /** What flowed through this pool. */
    /** Startup parameter sets this pool's backends have accepted: whose sync may go ahead of a request. */
    public AcceptedParameters acceptedParameters() {
        return acceptedParameters;
    }

    public PoolStats stats() {
        return stats;
    }

    /** Every open backend of this pool, in any state. */
    public Collection<BackendConnection> connections() {
        return java.util.Collections.unmodifiableSet(connections);
    }

    /** Prepared-statement cache figures of this pool's backends. */
    public StatementCounters preparedStatements() {
        return statementCounters;
    }

    public BackendTarget target() {
        return target;
    }

    /**
     * Leases a clean backend: an idle one if any, else a new one, waiting up to the wait
     * timeout; {@code preferred} first when it is idle, since a client that gets back the
     * backend it left finds its own session there, with nothing to reset or replay. The lease
     * must end with {@link Lease#release}, {@link Lease#discard} or at a settle.
     */
    public Lease acquire(BackendConnection preferred) throws IOException {
        // A retired pool still serves clients that logged in before the reload, so they never
        // notice it; it only stops keeping backends once they come back.
        PoolSettings s = settings;
        long start = System.nanoTime();
        long deadline = start + s.waitTimeout().toNanos();
        Semaphore permit;
        while (true) {
            if (gate.isPaused()) {
                awaitGate(s, deadline);
            }
            permit = permits.take(s, start, deadline);
            // Checked again with the permit held: a PAUSE that saw every permit back may not
            // have been seen here, and the drained pool it reported must stay drained.
            if (!gate.isPaused()) {
                break;
            }
            permit.release();
            gate.released();
        }
        long waited = Math.max(0, (System.nanoTime() - start) / 1000);
        stats.waited(waited);
        try {
            BackendConnection c;
            if (preferred != null && idle.remove(preferred)) {
                if (preferred.readiness() == BackendConnection.Readiness.READY && !expired(preferred, s)
                        && servedHost(preferred) && preferred.moveTo(BackendState.ACTIVE)) {
                    return leased(preferred, permit);
                }
                closeConnection(preferred);
            }
            while ((c = idle.pollFirst()) != null) {
                if (c.readiness() == BackendConnection.Readiness.READY && !expired(c, s) && servedHost(c)
                        && c.moveTo(BackendState.ACTIVE)) {
                    return leased(c, permit);
                }
                closeConnection(c);
            }
            c = open(deadline);
            if (!c.moveTo(BackendState.ACTIVE)) {
                closeConnection(c);
                throw new IOException(c.id() + " closed as soon as it was opened");
            }
            return leased(c, permit);
        } catch (IOException | RuntimeException e) {
            permit.release();
            throw e;
        }
    }


    /** Waits at a closed gate; the pool's wait timeout still applies, as PgBouncer's query_wait_timeout does. */
    private void awaitGate(PoolSettings s, long deadline) throws PoolExhaustedException {
        try {
            if (!gate.awaitOpen(deadline)) {
                throw permits.timedOut(s);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PoolExhaustedException("interrupted while the pool was paused");
        }
    }

    /** Janitor work: ends the waits that passed their deadline (53300). */
    public void expireWaiters(long nowNanos) {
        permits.expireWaiters(nowNanos);
    }

    private Lease leased(BackendConnection c, Semaphore permit) {
        leasedCount.incrementAndGet();
        acquired.increment();
        return new Lease(this, c, permit);
    }

    /**
     * Opens a connection within the database's and the user's budgets, to the primary. A
     * primary that cannot be reached is reported, and the next one known is tried, until the
     * source has none within its own bound (a cluster in failover).
     */
    private BackendConnection open(long deadline) throws IOException {
        budgets.take(deadline);
        BackendConnection c;
        try {
            c = connectToPrimary();
        } catch (IOException | RuntimeException e) {
            budgets.give();
            throw e;
        }
        open.incrementAndGet();
        if (welcome == null) {
            welcome = Map.copyOf(c.parameters());
        }
        return c;
    }

    private BackendConnection connectToPrimary() throws IOException {
        while (true) {
            HostAddress host = hosts.primary();
            BackendConnection c = BackendConnection.create(target.at(host.host(), host.port()), buffers, clock);
            connections.add(c);
            try {
                BackendConnector.connect(c);
                hosts.opened(host);
                return c;
            } catch (BackendException e) {
                connections.remove(c);
                if (!hostFailure(e) || !hosts.connectFailed(host)) {
                    throw e;
                }
                log.info("pool \"{}\": {} failed ({}); waiting for the cluster's primary", name, host, e.getMessage());
            } catch (IOException | RuntimeException e) {
                connections.remove(c);
                throw e;
            }
        }
    }

    /** The server, not the login, failed: unreachable (08), or starting up, shutting down or in recovery (57P). */
    private static boolean hostFailure(BackendException e) {
        String state = e.error().sqlState();
        return state.startsWith("08") || state.startsWith("57P");
    }

    /**
     * Returns a backend after a client is done with it: rolled back if a transaction is open,
     * reset, and kept; or closed when its state is not known to be clean.
     */
    void release(Lease lease) {
        BackendConnection c = lease.backend();
        Semaphore permit = unlease(lease);
        c.detach();
        // Whatever the client changed, the next one's parameters are set from scratch.
        c.session().forget();
        PoolSettings s = settings;
        try {
            boolean settled = c.readiness().compareTo(BackendConnection.Readiness.IN_TRANSACTION) >= 0;
            if (retired || !settled || expired(c, s) || !c.moveTo(BackendState.RESETTING)) {
                closeConnection(c);
                return;
            }
            if (!SessionReset.run(c, s)) {
                closeConnection(c);
                return;
            }
            if (c.readiness() != BackendConnection.Readiness.READY || !c.moveTo(BackendState.IDLE)) {
                closeConnection(c);
                return;
            }
            c.markReleased();
            idle.offerFirst(c);
        } catch (IOException e) {
            log.info("{} reset failed, closing: {}", c.id(), e.getMessage());
            closeConnection(c);
        } finally {
            releasePermit(permit);
        }
    }

    /**
     * Returns a backend between transactions (transaction pooling): no reset, since the next
     * client's session state is brought over as a diff; closed unless it is clean.
     */
    void returnIdle(Lease lease) {
        BackendConnection c = lease.backend();
        Semaphore permit = unlease(lease);
        c.detach();
        if (!retired && c.readiness() == BackendConnection.Readiness.READY && !expired(c, settings) && c.moveTo(BackendState.IDLE)) {
            c.markReleased();
            idle.offerFirst(c);
        } else {
            closeConnection(c);
        }
        releasePermit(permit);
    }

    /** Closes a leased backend that must not be reused. */
    void discard(Lease lease) {
        BackendConnection c = lease.backend();
        Semaphore permit = unlease(lease);
        c.detach();
        closeConnection(c);
        releasePermit(permit);
    }

    private void releasePermit(Semaphore permit) {
        permit.release();
        gate.released();
    }

    /** The ParameterStatus set a new client is greeted with: a backend's, learned once per pool. */
    public Map<String, String> welcomeParameters() throws IOException {
        Map<String, String> w = welcome;
        if (w == null) {
            acquire(null).release();
            w = welcome;
        }
        return w;
    }

    /** Closes idle backends past the idle timeout or lifetime; called by the janitor. */
    public void evictIdle() {
        PoolSettings s = settings;
        long now = System.nanoTime();
        for (BackendConnection c : idle) {
            boolean idleTooLong = now - c.lastReleasedNanos() > s.serverIdleTimeout().toNanos()
                    && open.get() > s.minSize();
            if ((retired || c.isClosed() || idleTooLong || expired(c, s) || !servedHost(c)) && idle.remove(c)) {
                closeConnection(c);
            }
        }
        // A lease that found the idle list empty while a backend was on its way back opened a
        // new one: the pool may briefly hold more than its size. Trim the surplus here.
        BackendConnection surplus;
        while (open.get() > s.maxSize() + s.reserveSize() && (surplus = idle.pollLast()) != null) {
            closeConnection(surplus);
        }
    }

    /** Closes one idle connection to make room in a shared budget; false if there was none. */
    boolean evictOneIdle() {
        BackendConnection c = idle.pollLast();
        if (c == null) {
            return false;
        }
        closeConnection(c);
        return true;
    }

    /** Opens connections up to the minimum size, in the background; called by the janitor. */
    void warmUp() {
        PoolSettings s = settings;
        if (retired || open.get() >= s.minSize() || !warming.compareAndSet(false, true)) {
            return;
        }
        Thread.ofVirtual().name("pgproxy-warmup-" + name).start(() -> {
            try {
                while (!retired && open.get() < settings.minSize() && permits.tryTakePooled()) {
                    try {
                        BackendConnection c = open(System.nanoTime());
                        c.markReleased();
                        idle.offerLast(c);
                    } finally {
                        permits.givePooled();
                    }
                }
            } catch (IOException e) {
                log.warn("pool \"{}\": pre-warming failed: {}", name, e.getMessage());
            } finally {
                warming.set(false);
            }
        });
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
        return leasedCount.get();
    }

    /** The permit a lease holds; each lease ends once ({@link Lease}), so this runs once per lease. */
    private Semaphore unlease(Lease lease) {
        leasedCount.decrementAndGet();
        return lease.permit();
    }

    public int idleConnections() {
        return idle.size();
    }

    /** Clients waiting for a backend right now. */
    public int waitingClients() {
        return permits.waiting();
    }

    public long acquiredTotal() {
        return acquired.sum();
    }

    public long waitTimeoutsTotal() {
        return timeouts.sum();
    }

    /** Closes every idle backend (shutdown). */
    public void closeIdle() {
        BackendConnection c;
        while ((c = idle.pollFirst()) != null) {
            closeConnection(c);
        }
    }

    private boolean expired(BackendConnection c, PoolSettings s) {
        long before = reconnectBefore;
        return System.nanoTime() - c.createdNanos() > s.serverLifetime().toNanos()
                || (before != 0 && c.createdNanos() - before < 0);
    }

    /** Whether {@code c} is to close when next free: past its lifetime, marked by RECONNECT, or on a host no longer served. */
    public boolean retires(BackendConnection c) {
        return expired(c, settings) || !servedHost(c);
    }

    /** The gate PAUSE closes for this pool's database. */
    public PauseGate gate() {
        return gate;
    }

    /** Nothing leased and nothing being leased: what PAUSE waits for. */
    public boolean isDrained() {
        return permits.allBack();
    }

    /**
     * RECONNECT: every backend open now is closed when it is next free (idle ones at once);
     * new ones open as needed.
     */
    public void reconnect() {
        reconnectBefore = System.nanoTime();
        evictIdle();
    }

    /**
     * Closes every leased backend: a switchover whose bound passed ends the transactions still
     * running (their clients get 08006 and keep their sessions). Returns how many it closed.
     */
    public int closeLeased() {
        int closed = 0;
        for (BackendConnection c : connections) {
            if (c.state() == BackendState.ACTIVE) {
                c.sever();
                closed++;
            }
        }
        return closed;
    }

    /** Whether a backend that RECONNECT or a reload marked is still open (what WAIT_CLOSE waits for). */
    public boolean hasMarkedConnections() {
        if (retired) {
            return open.get() > 0;
        }
        long before = reconnectBefore;
        return before != 0 && connections.stream().anyMatch(c -> c.createdNanos() - before < 0);
    }

    private boolean servedHost(BackendConnection c) {
        return hosts.serves(c.target().host(), c.target().port());
    }

    private void closeConnection(BackendConnection c) {
        hosts.closed(new HostAddress(c.target().host(), c.target().port()));
        c.close();
        connections.remove(c);
        open.decrementAndGet();
        budgets.give();
    }
}
