package io.pgproxy.failover;

import io.pgproxy.config.FailoverConfig;
import io.pgproxy.config.HostAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * Checks every host of one cluster, all at once, each round; then lets the cluster choose its
 * primary. Rounds follow one another at the check interval, or at once when a pool reports a
 * failed connection. Runs on a virtual thread of its own until stopped.
 */
final class HealthChecker {
    private static final Logger log = LoggerFactory.getLogger(HealthChecker.class);

    private final Cluster cluster;
    private final Supplier<FailoverConfig> config;
    private final BiFunction<Cluster, HostAddress, CheckResult> check;
    /** A permit is a request to check again now. */
    private final Semaphore wake = new Semaphore(0);
    private volatile boolean stopped;
    private Thread thread;

    HealthChecker(Cluster cluster, Supplier<FailoverConfig> config, BiFunction<Cluster, HostAddress, CheckResult> check) {
        this.cluster = cluster;
        this.config = config;
        this.check = check;
    }

    void start() {
        cluster.onWake(() -> {
            if (wake.availablePermits() == 0) {
                wake.release();
            }
        });
        thread = Thread.ofVirtual().name("pgproxy-health-" + cluster.database()).start(this::run);
    }

    void stop() {
        stopped = true;
        if (thread != null) {
            thread.interrupt();
        }
    }

    private void run() {
        try {
            while (!stopped) {
                round();
                FailoverConfig f = config.get();
                if (wake.tryAcquire(f.checkInterval().toNanos(), TimeUnit.NANOSECONDS)) {
                    wake.drainPermits();
                }
            }
        } catch (InterruptedException e) {
            // Stopped.
        }
    }

    /** Checks each host on its own thread, so one that hangs costs the round only its timeout. */
    void round() throws InterruptedException {
        FailoverConfig f = config.get();
        List<HostHealth> hosts = cluster.hosts();
        List<Thread> checks = hosts.stream().map(h -> Thread.ofVirtual().name("pgproxy-health-check").start(() -> {
            CheckResult r = check.apply(cluster, h.address());
            HostState before = h.state();
            if (cluster.record(h.address(), r, f.fallCount(), f.riseCount())) {
                log.info("database \"{}\": host {} is {} ({}){}", cluster.database(), h.address(), h.state().label(),
                        h.role().label(), r instanceof CheckResult.Failed failed ? ": " + failed.reason() : "");
            } else if (r instanceof CheckResult.Failed failed && before != HostState.DOWN) {
                log.warn("database \"{}\": health check of {} failed: {}", cluster.database(), h.address(), failed.reason());
            }
        })).toList();
        for (Thread t : checks) {
            t.join();
        }
        cluster.evaluate();
    }
}
