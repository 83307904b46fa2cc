package io.pgproxy.failover;

import io.pgproxy.backend.BackendException;
import io.pgproxy.config.FailoverConfig;
import io.pgproxy.config.HostAddress;
import io.pgproxy.pool.PrimarySource;
import io.pgproxy.protocol.message.ErrorResponse;

import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Where the backends of a read-only database go: the cluster's standbys that are up and no
 * more than {@code max-replica-lag} behind their primary, the one with the fewest of this
 * route's connections first; with none, the primary if the database prefers standbys, else a
 * bounded wait as for a primary. An idle backend on a standby that fell behind or went down is
 * not handed out again.
 */
final class StandbyRoute implements PrimarySource {
    private static final long RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final Cluster cluster;
    private final boolean fallBackToPrimary;
    private final Supplier<FailoverConfig> config;
    private final Map<HostAddress, AtomicInteger> open = new ConcurrentHashMap<>();

    StandbyRoute(Cluster cluster, boolean fallBackToPrimary, Supplier<FailoverConfig> config) {
        this.cluster = cluster;
        this.fallBackToPrimary = fallBackToPrimary;
        this.config = config;
    }

    @Override
    public HostAddress primary() throws BackendException {
        HostAddress h = choose();
        if (h != null) {
            return h;
        }
        Duration bound = config.get().primaryWaitTimeout();
        long deadline = System.nanoTime() + bound.toNanos();
        try {
            while ((h = choose()) == null) {
                if (System.nanoTime() - deadline > 0) {
                    throw new BackendException(ErrorResponse.error("08001", "database \"" + cluster.database()
                            + "\" has no standby to read from within " + bound.toMillis() + " ms ("
                            + cluster.describeHosts() + ")"), null);
                }
                cluster.awaitRound(RECHECK_NANOS);
            }
            return h;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BackendException(ErrorResponse.error("08001", "interrupted while waiting for a standby of \""
                    + cluster.database() + "\""), e);
        }
    }

    /** The usable standby with the fewest connections of this route; else the primary where allowed. */
    HostAddress choose() {
        HostAddress best = cluster.hosts().stream().filter(this::readable).map(HostHealth::address)
                .min(Comparator.comparingInt(h -> count(h).get())).orElse(null);
        return best != null || !fallBackToPrimary ? best : cluster.currentPrimary();
    }

    private boolean readable(HostHealth h) {
        return h.servesAsStandby() && cluster.lagOf(h) <= config.get().maxReplicaLag();
    }

    @Override
    public boolean connectFailed(HostAddress host) {
        HostHealth h = cluster.health(host);
        if (h == null) {
            return false;
        }
        h.suspect();
        cluster.wakeChecker();
        return true;
    }

    @Override
    public boolean serves(String host, int port) {
        HostHealth h = cluster.health(new HostAddress(host, port));
        if (h == null) {
            return false;
        }
        if (readable(h)) {
            return true;
        }
        return fallBackToPrimary && h.address().equals(cluster.currentPrimary())
                && cluster.hosts().stream().noneMatch(this::readable);
    }

    @Override
    public void opened(HostAddress host) {
        count(host).incrementAndGet();
    }

    @Override
    public void closed(HostAddress host) {
        count(host).decrementAndGet();
    }

    Cluster cluster() {
        return cluster;
    }

    boolean fallsBack() {
        return fallBackToPrimary;
    }

    /** This route's open connections to {@code host}. */
    int connections(HostAddress host) {
        return count(host).get();
    }

    private AtomicInteger count(HostAddress host) {
        return open.computeIfAbsent(host, h -> new AtomicInteger());
    }
}
