package io.pgproxy.failover;

import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.FailoverConfig;
import io.pgproxy.config.HostAddress;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.TargetSessionAttrs;
import io.pgproxy.pool.LeaseManager;
import io.pgproxy.pool.PauseGate;
import io.pgproxy.pool.Pool;
import io.pgproxy.pool.PrimarySource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * Keeps one {@link Cluster} per database and acts on what happens to them. A new primary (found
 * by the checks) makes the database's pools drop their backends to the old one as they come
 * back, so the next transaction of every client runs on the new primary, its session brought
 * over as on any new backend. A switchover, asked for by the admin console or by a reload that
 * moves a database, closes the database's gate, lets running transactions finish (bounded:
 * those still running then lose their backend and get 08006), changes the primary, and opens
 * the gate: clients only wait.
 */
public final class FailoverCoordinator implements Cluster.Listener {
    private static final Logger log = LoggerFactory.getLogger(FailoverCoordinator.class);

    /** What a switchover did. */
    public record Switchover(String database, HostAddress from, HostAddress to, long stallMicros, int aborted) {
    }

    /** How long a switchover waits for a check round it asked for before it looks again. */
    private static final long ROUND_WAIT_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(200);

    private final Map<String, Cluster> clusters = new ConcurrentHashMap<>();
    private final Map<String, HealthChecker> checkers = new ConcurrentHashMap<>();
    private final Map<String, StandbyRoute> standbyRoutes = new ConcurrentHashMap<>();
    private volatile ProxyConfig config;
    private volatile LeaseManager leases;
    private final LongAdder failovers = new LongAdder();
    private final LongAdder switchovers = new LongAdder();
    private final LongAdder abortedBySwitchover = new LongAdder();
    private final AtomicLong switchoverStallMicros = new AtomicLong();
    private final AtomicLong lastSwitchoverStallMicros = new AtomicLong();
    /** Each database's last primary that was not "none". */
    private final Map<String, HostAddress> lastPrimary = new ConcurrentHashMap<>();
    /** Databases in a switchover now: their change of primary is not counted as a failover. */
    private final Map<String, Boolean> switching = new ConcurrentHashMap<>();

    public FailoverCoordinator(ProxyConfig config) {
        this.config = config;
    }

    /** Starts checking the clusters of the configuration; {@code leases} gets told of new primaries. */
    public void start(LeaseManager leases) {
        this.leases = leases;
        config.databases().values().forEach(this::cluster);
    }

    /**
     * Where {@code database}'s pools connect: its cluster's primary, made on first use; for a
     * read-only database, its standbys.
     */
    public PrimarySource source(DatabaseConfig database) {
        Cluster c = cluster(database);
        if (!database.targetSessionAttrs().readsStandbys()) {
            return c;
        }
        boolean fallBack = database.targetSessionAttrs() == TargetSessionAttrs.PREFER_STANDBY;
        return standbyRoutes.compute(database.name(), (n, r) -> r != null && r.cluster() == c
                && r.fallsBack() == fallBack ? r : new StandbyRoute(c, fallBack, () -> config.failover()));
    }

    private Cluster cluster(DatabaseConfig database) {
        Cluster c = clusters.computeIfAbsent(database.name(),
                n -> new Cluster(n, database.hosts(), () -> config.failover().primaryWaitTimeout(), this));
        watch(c);
        return c;
    }

    /** Starts the cluster's checker if it has more than one host, stops it if it has one. */
    private void watch(Cluster c) {
        if (leases == null) {
            return;
        }
        if (c.isChecked()) {
            checkers.computeIfAbsent(c.database(), n -> {
                HealthChecker h = new HealthChecker(c, () -> config.failover(), this::check);
                h.start();
                return h;
            });
        } else {
            HealthChecker h = checkers.remove(c.database());
            if (h != null) {
                h.stop();
            }
        }
    }

    /** The clusters, in no particular order: what SHOW HOSTS lists. */
    public List<Cluster> clusters() {
        return List.copyOf(clusters.values());
    }

    public Cluster cluster(String database) {
        return clusters.get(database);
    }

    /** One check of {@code host}, logged in as the database's user, or as the health user where it has none. */
    private CheckResult check(Cluster cluster, HostAddress host) {
        ProxyConfig c = config;
        DatabaseConfig db = c.databases().get(cluster.database());
        if (db == null) {
            return new CheckResult.Failed("database no longer configured");
        }
        FailoverConfig f = c.failover();
        String user = db.user() != null ? db.user() : f.healthUser();
        String password = db.user() != null ? db.password() : f.healthPassword();
        return HealthQuery.run(leases.standaloneTarget(db, user, password, host), f.checkTimeout());
    }

    @Override
    public void primaryChanged(Cluster cluster, HostAddress from, HostAddress to, boolean planned) {
        String db = cluster.database();
        if (to == null) {
            log.warn("database \"{}\": no primary ({}); new transactions wait up to {} ms for one", db,
                    cluster.describeHosts(), config.failover().primaryWaitTimeout().toMillis());
        } else if (from == null) {
            log.info("database \"{}\": primary is {}", db, to);
        } else if (planned) {
            log.info("database \"{}\": primary moved from {} to {} by a switchover", db, from, to);
        } else {
            log.warn("database \"{}\": primary moved from {} to {}", db, from, to);
        }
        // A failover is a new primary other than the last one known: through "none" as a
        // primary dies, and a standby is promoted, it is still one failover.
        HostAddress previous = to == null ? null : lastPrimary.put(db, to);
        if (previous != null && !previous.equals(to) && !planned) {
            failovers.increment();
        }
        LeaseManager l = leases;
        if (l != null && (from != null || to == null)) {
            // Backends on the old primary close as they come back; idle ones now.
            l.pools(db).forEach(Pool::reconnect);
        }
    }

    /**
     * Applies a reload: new databases get a cluster, removed ones lose theirs, and a database
     * whose hosts changed moves to them by a switchover on a thread of its own, so the reload
     * does not wait for it.
     */
    public void reconfigure(ProxyConfig next) {
        this.config = next;
        clusters.keySet().removeIf(name -> {
            if (next.databases().containsKey(name)) {
                return false;
            }
            HealthChecker h = checkers.remove(name);
            if (h != null) {
                h.stop();
            }
            return true;
        });
        for (DatabaseConfig d : next.databases().values()) {
            Cluster c = clusters.get(d.name());
            if (c == null) {
                cluster(d);
            } else if (!c.hostAddresses().equals(d.hosts())) {
                Thread.ofVirtual().name("pgproxy-move-" + d.name()).start(() -> move(c, d));
            }
        }
    }

    private void move(Cluster c, DatabaseConfig d) {
        try {
            Switchover s = switchover(c, null, d.hosts(), () -> false);
            log.info("database \"{}\" moved to {}: primary {} (clients waited {} ms)", d.name(), d.hosts(), s.to(),
                    s.stallMicros() / 1000);
        } catch (SwitchoverException e) {
            log.error("database \"{}\": moving to {} failed: {}", d.name(), d.hosts(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * SWITCHOVER: moves {@code database} to {@code target} (null: the cluster's next host that
     * is up) with clients waiting, not failing.
     */
    public Switchover switchover(String database, HostAddress target, BooleanSupplier giveUp)
            throws SwitchoverException, InterruptedException {
        Cluster c = clusters.get(database);
        if (c == null) {
            throw new SwitchoverException("3D000", "no such database: " + database);
        }
        if (target != null && c.health(target) == null) {
            throw new SwitchoverException("22023", target + " is not a host of database \"" + database + "\" ("
                    + c.hostAddresses() + ")");
        }
        return switchover(c, target, null, giveUp);
    }

    /**
     * Closes the gate, waits for running transactions (their backends are closed once the
     * bound passes), puts {@code hosts} in place if given, waits for {@code target} (or any
     * host) to serve as primary, makes it the primary, opens the gate.
     */
    private Switchover switchover(Cluster c, HostAddress target, List<HostAddress> hosts, BooleanSupplier giveUp)
            throws SwitchoverException, InterruptedException {
        String db = c.database();
        if (switching.putIfAbsent(db, Boolean.TRUE) != null) {
            throw new SwitchoverException("55000", "a switchover of \"" + db + "\" is already running");
        }
        LeaseManager l = leases;
        c.switching(true);
        PauseGate gate = l.gate(db);
        boolean pausedHere = gate.pause();
        long start = System.nanoTime();
        long deadline = start + config.failover().switchoverTimeout().toNanos();
        HostAddress from = c.currentPrimary();
        int aborted = 0;
        try {
            BooleanSupplier late = () -> System.nanoTime() - deadline > 0 || giveUp.getAsBoolean();
            gate.awaitUntil(() -> l.pools(db).stream().allMatch(Pool::isDrained), late);
            if (giveUp.getAsBoolean()) {
                throw new SwitchoverException("57P01", "switchover abandoned: the console session closed");
            }
            if (!l.pools(db).stream().allMatch(Pool::isDrained)) {
                aborted = l.pools(db).stream().mapToInt(Pool::closeLeased).sum();
                abortedBySwitchover.add(aborted);
                log.warn("database \"{}\": {} transaction(s) still running after {} ms of switchover: their backends "
                        + "are closed (08006)", db, aborted, config.failover().switchoverTimeout().toMillis());
            }
            if (hosts != null) {
                c.hosts(hosts);
                watch(c);
            }
            HostAddress to = awaitPrimary(c, target, Math.max(deadline, System.nanoTime() + config.failover()
                    .switchoverTimeout().toNanos()), giveUp);
            c.choose(to);
            l.pools(db).forEach(Pool::reconnect);
            long stall = (System.nanoTime() - start) / 1000;
            switchovers.increment();
            switchoverStallMicros.addAndGet(stall);
            lastSwitchoverStallMicros.set(stall);
            log.info("database \"{}\": switchover from {} to {} done, new transactions waited {} ms", db, from, to,
                    stall / 1000);
            return new Switchover(db, from, to, stall, aborted);
        } finally {
            c.switching(false);
            switching.remove(db);
            if (pausedHere) {
                gate.resume();
            }
        }
    }

    /** The host to switch to: {@code target} once it says it is the primary, or the first that does. */
    private static HostAddress awaitPrimary(Cluster c, HostAddress target, long deadline, BooleanSupplier giveUp)
            throws SwitchoverException, InterruptedException {
        if (!c.isChecked()) {
            HostAddress only = c.hostAddresses().getFirst();
            if (target != null && !target.equals(only)) {
                throw new SwitchoverException("22023", target + " is not the host of \"" + c.database() + "\"");
            }
            return only;
        }
        while (true) {
            HostAddress found = target != null
                    ? (c.health(target).servesAsPrimary() ? target : null)
                    : c.hosts().stream().filter(HostHealth::servesAsPrimary).map(HostHealth::address).findFirst()
                    .orElse(null);
            if (found != null) {
                return found;
            }
            if (System.nanoTime() - deadline > 0 || giveUp.getAsBoolean()) {
                throw new SwitchoverException("55000", "switchover of \"" + c.database() + "\": "
                        + (target != null ? target + " did not become the primary" : "no host became the primary")
                        + " in time (" + c.describeHosts() + ")");
            }
            c.wakeChecker();
            c.awaitRound(ROUND_WAIT_NANOS);
        }
    }

    public void stop() {
        checkers.values().forEach(HealthChecker::stop);
        checkers.clear();
    }

    public long failovers() {
        return failovers.sum();
    }

    public long switchovers() {
        return switchovers.sum();
    }

    public long abortedBySwitchover() {
        return abortedBySwitchover.sum();
    }

    /** Sum of the time new transactions waited at switchovers, and the last one's. */
    public long switchoverStallMicros() {
        return switchoverStallMicros.get();
    }

    public long lastSwitchoverStallMicros() {
        return lastSwitchoverStallMicros.get();
    }

}
