package io.pgproxy.failover;

import io.pgproxy.backend.BackendException;
import io.pgproxy.config.HostAddress;
import io.pgproxy.pool.PrimarySource;
import io.pgproxy.protocol.message.ErrorResponse;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A database's hosts and which of them is the primary now: what its pools connect to. A cluster
 * of more than one host learns its primary from its health checks (the host that is up and not
 * in recovery, the current one kept while it still is, else the first in configured order);
 * a single host is the primary by configuration and never checked. While there is no primary,
 * {@link #primary()} waits, bounded, instead of failing. The primary moves only in
 * {@link #choose}, which tells the listener.
 */
public final class Cluster implements PrimarySource {
    /**
     * Told of each change of primary, outside the cluster's lock; {@code to} is null while there
     * is none. {@code planned}: a switchover was running when the primary changed, whoever
     * changed it (the switchover or a health check that saw the promotion first).
     */
    public interface Listener {
        void primaryChanged(Cluster cluster, HostAddress from, HostAddress to, boolean planned);
    }

    private final String database;
    private final Supplier<Duration> primaryWait;
    private final Listener listener;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private volatile Map<HostAddress, HostHealth> hosts;
    private volatile HostAddress primary;
    /** Asked to look again now (a pool's connection failed); null until a checker runs. */
    private volatile Runnable wake = () -> { };
    /** A switchover is running; guarded by the lock, so a change of primary knows it at once. */
    private boolean switching;

    Cluster(String database, List<HostAddress> hosts, Supplier<Duration> primaryWait, Listener listener) {
        this.database = database;
        this.primaryWait = primaryWait;
        this.listener = listener;
        this.hosts = healthOf(hosts, Map.of());
        if (!isChecked()) {
            this.primary = hosts.getFirst();
        }
    }

    private static Map<HostAddress, HostHealth> healthOf(List<HostAddress> hosts, Map<HostAddress, HostHealth> known) {
        Map<HostAddress, HostHealth> next = new LinkedHashMap<>();
        for (HostAddress h : hosts) {
            next.put(h, known.getOrDefault(h, new HostHealth(h)));
        }
        return java.util.Collections.unmodifiableMap(next);
    }

    public String database() {
        return database;
    }

    /** More than one host: health-checked, the primary learned. */
    public boolean isChecked() {
        return hosts.size() > 1;
    }

    /** The hosts in configured order with their health. */
    public List<HostHealth> hosts() {
        return List.copyOf(hosts.values());
    }

    public HostHealth health(HostAddress host) {
        return hosts.get(host);
    }

    /** The primary now, or null while there is none. */
    public HostAddress currentPrimary() {
        return primary;
    }

    /** The hosts in configured order. */
    public List<HostAddress> hostAddresses() {
        return List.copyOf(hosts.keySet());
    }

    /** Asks the checker for a round now. */
    void wakeChecker() {
        wake.run();
    }

    /** Waits up to {@code nanos} for the next check round to end or the primary to change. */
    void awaitRound(long nanos) throws InterruptedException {
        lock.lock();
        try {
            changed.awaitNanos(nanos);
        } finally {
            lock.unlock();
        }
    }

    void onWake(Runnable wake) {
        this.wake = wake;
    }

    @Override
    public HostAddress primary() throws BackendException {
        HostAddress p = primary;
        if (p != null) {
            return p;
        }
        Duration bound = primaryWait.get();
        long deadline = System.nanoTime() + bound.toNanos();
        lock.lock();
        try {
            while ((p = primary) == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new BackendException(ErrorResponse.error("08001", "database \"" + database
                            + "\" has no primary server: none became known within " + bound.toMillis() + " ms ("
                            + describeHosts() + ")"), null);
                }
                changed.awaitNanos(left);
            }
            return p;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BackendException(ErrorResponse.error("08001", "interrupted while waiting for a primary of \""
                    + database + "\""), e);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean connectFailed(HostAddress host) {
        HostHealth h = hosts.get(host);
        if (!isChecked() || h == null) {
            return false;
        }
        h.suspect();
        evaluate();
        wake.run();
        return true;
    }

    /** Applies one check of {@code host}; returns whether its state or role changed. */
    boolean record(HostAddress host, CheckResult result, int fall, int rise) {
        HostHealth h = hosts.get(host);
        return h != null && h.record(result, fall, rise);
    }

    /** Picks the primary the checks point at: the current one while it still serves, else the first that does. */
    void evaluate() {
        if (!isChecked()) {
            choose(hosts.keySet().iterator().next());
            return;
        }
        HostAddress current = primary;
        HostHealth now = current == null ? null : hosts.get(current);
        if (now == null || !now.servesAsPrimary()) {
            choose(hosts.values().stream().filter(HostHealth::servesAsPrimary).map(HostHealth::address)
                    .findFirst().orElse(null));
        }
        lock.lock();
        try {
            // A switchover waiting for its target looks again.
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** A reload's host list: health of hosts still listed is kept, and the primary chosen again. */
    void hosts(List<HostAddress> next) {
        if (!next.equals(new ArrayList<>(hosts.keySet()))) {
            hosts = healthOf(next, hosts);
        }
    }

    /**
     * Makes {@code next} the primary (null: none); the one place the primary changes. Waiting
     * clients wake; the listener hears of it after the lock is let go.
     */
    void choose(HostAddress next) {
        HostAddress from;
        boolean planned;
        lock.lock();
        try {
            from = primary;
            if (java.util.Objects.equals(from, next)) {
                return;
            }
            primary = next;
            planned = switching;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        listener.primaryChanged(this, from, next, planned);
    }

    /** A switchover starts or ends: changes of primary meanwhile are planned ones. */
    void switching(boolean on) {
        lock.lock();
        try {
            switching = on;
        } finally {
            lock.unlock();
        }
    }

    /**
     * How far {@code host} replays behind the primary, in bytes of WAL, by both hosts' last
     * checks; 0 while there is no primary to be behind.
     */
    public long lagOf(HostHealth host) {
        HostAddress p = primary;
        HostHealth ph = p == null ? null : hosts.get(p);
        return ph == null ? 0 : Math.max(0, ph.walPosition() - host.walPosition());
    }

    /** Each host with what its checks last said: the detail of a "no primary" error. */
    String describeHosts() {
        StringBuilder b = new StringBuilder();
        for (HostHealth h : hosts.values()) {
            if (!b.isEmpty()) {
                b.append("; ");
            }
            b.append(h.address()).append(' ').append(h.state().label()).append(' ').append(h.role().label());
            if (h.lastError() != null) {
                b.append(": ").append(h.lastError());
            }
        }
        return b.toString();
    }
}
