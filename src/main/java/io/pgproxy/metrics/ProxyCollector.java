package io.pgproxy.metrics;

import io.pgproxy.backend.BackendState;
import io.pgproxy.client.ClientState;
import io.pgproxy.pool.LatencyHistogram;
import io.pgproxy.server.ProxyServer;
import io.pgproxy.session.PinReason;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Every pgproxy metric of one server, computed when a scrape arrives from the figures the pools,
 * the sessions and the server's counters keep. The README's Metrics section lists them; names,
 * types and labels here and there must agree.
 */
final class ProxyCollector implements MultiCollector {
    private static final double MICROS_PER_SECOND = 1_000_000.0;
    private static final double[] BOUNDS_SECONDS = boundsSeconds();

    private final ProxyServer server;
    private final PoolLabels labels;

    ProxyCollector(ProxyServer server, int maxLabelledPools) {
        this.server = server;
        this.labels = new PoolLabels(maxLabelledPools);
    }

    @Override
    public MetricSnapshots collect() {
        Map<PoolLabels.Key, PoolFigures> pools = PoolFigures.collect(
                server.leases().pools(), server.sessions(), labels);
        List<MetricSnapshot> out = new ArrayList<>();
        out.add(byState(pools, "pgproxy_clients", "Client connections by state, per pool (_none_: not in a pool yet).",
                ClientState.values(), f -> f.clients));
        out.add(byState(pools, "pgproxy_backends", "Backend connections by state, per pool.",
                BackendState.values(), f -> f.backends));
        out.add(histogram(pools, "pgproxy_backend_wait_seconds", "Time clients waited for a backend.", f -> f.waits));
        out.add(histogram(pools, "pgproxy_transaction_duration_seconds",
                "Transactions (and statements outside one), from first request to ReadyForQuery idle.",
                f -> f.transactionTimes));
        out.add(histogram(pools, "pgproxy_query_duration_seconds", "Requests, from the request to its ReadyForQuery.",
                f -> f.queryTimes));
        out.add(counter(pools, "pgproxy_client_received_bytes", "Bytes read from clients.", f -> f.received));
        out.add(counter(pools, "pgproxy_client_sent_bytes", "Bytes written to clients.", f -> f.sent));
        out.add(counter(pools, "pgproxy_transactions", "Transactions completed.", f -> f.transactions));
        out.add(counter(pools, "pgproxy_queries", "Requests answered (ReadyForQuery received).", f -> f.queries));
        out.add(counter(pools, "pgproxy_leases", "Backends handed to clients.", f -> f.leases));
        out.add(counter(pools, "pgproxy_backend_wait_timeouts", "Clients that got no backend within wait-timeout.",
                f -> f.waitTimeouts));
        out.add(pins(pools));
        out.add(counter(pools, "pgproxy_unpins", "Pinned sessions that went back to sharing backends.", f -> f.unpins));
        out.add(counter(pools, "pgproxy_transactions_aborted_by_lost_backend",
                "Requests or transaction blocks whose backend died under them, answered 08006 with the session kept.",
                f -> f.aborted));
        out.add(counter(pools, "pgproxy_sessions_lost_with_backend",
                "Sessions a dying backend ended (pinned state, a half-relayed reply, a FATAL passed on).",
                f -> f.sessionsLost));
        out.add(counter(pools, "pgproxy_sessions_moved",
                "Sessions that went on after their backend was lost or taken, or that left it to follow a switchover.",
                f -> f.sessionsMoved));
        out.add(counter(pools, "pgproxy_requests_without_backend",
                "Requests answered with an error because no backend could be leased for them; the session went on.",
                f -> f.requestsRefused));
        out.add(counter(pools, "pgproxy_transaction_replays",
                "Transactions whose backend died run again on another (transaction-replay).", f -> f.replays));
        out.add(counter(pools, "pgproxy_transaction_replays_matched",
                "Replays whose replies matched what the client had received: the client carried on.",
                f -> f.replaysMatched));
        out.add(replayRefusals(pools));
        out.addAll(failover());
        out.add(counter(pools, "pgproxy_prepared_statement_hits",
                "Prepared-statement cache hits: a statement the backend already had.", f -> f.cacheHits));
        out.add(counter(pools, "pgproxy_prepared_statement_prepares",
                "Prepared-statement cache misses: Parse sent to a backend.", f -> f.prepares));
        out.add(counter(pools, "pgproxy_prepared_statement_evictions",
                "Prepared statements closed on a backend to stay within max-prepared-statements.", f -> f.evictions));
        out.add(refusals());
        out.add(errors());
        return new MetricSnapshots(out);
    }

    private static Labels poolLabels(PoolLabels.Key k, String... more) {
        String[] kv = new String[4 + more.length];
        kv[0] = "database";
        kv[1] = k.database();
        kv[2] = "user";
        kv[3] = k.user();
        System.arraycopy(more, 0, kv, 4, more.length);
        return Labels.of(kv);
    }

    private static <E extends Enum<E>> GaugeSnapshot byState(Map<PoolLabels.Key, PoolFigures> pools, String name,
                                                            String help, E[] states,
                                                            Function<PoolFigures, long[]> counts) {
        GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
        pools.forEach((k, f) -> {
            long[] c = counts.apply(f);
            for (E s : states) {
                b.dataPoint(GaugeDataPointSnapshot.builder().value(c[s.ordinal()])
                        .labels(poolLabels(k, "state", label(s))).build());
            }
        });
        return b.build();
    }

    private static CounterSnapshot counter(Map<PoolLabels.Key, PoolFigures> pools, String name, String help,
                                           ToLongFunction<PoolFigures> value) {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(help);
        pools.forEach((k, f) -> {
            if (k != PoolFigures.NO_POOL) {
                b.dataPoint(CounterDataPointSnapshot.builder().value(value.applyAsLong(f)).labels(poolLabels(k)).build());
            }
        });
        return b.build();
    }

    private static CounterSnapshot pins(Map<PoolLabels.Key, PoolFigures> pools) {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name("pgproxy_pins")
                .help("Sessions pinned to their backend, by reason (once per session and reason).");
        pools.forEach((k, f) -> {
            if (k != PoolFigures.NO_POOL) {
                for (PinReason r : PinReason.values()) {
                    b.dataPoint(CounterDataPointSnapshot.builder().value(f.pins[r.ordinal()])
                            .labels(poolLabels(k, "reason", label(r))).build());
                }
            }
        });
        return b.build();
    }

    private static CounterSnapshot replayRefusals(Map<PoolLabels.Key, PoolFigures> pools) {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name("pgproxy_transaction_replays_refused")
                .help("Transactions whose backend died that were not replayed or whose replay was given up, by reason.");
        pools.forEach((k, f) -> {
            if (k != PoolFigures.NO_POOL) {
                for (io.pgproxy.pool.ReplayRefusal r : io.pgproxy.pool.ReplayRefusal.values()) {
                    b.dataPoint(CounterDataPointSnapshot.builder().value(f.replaysRefused[r.ordinal()])
                            .labels(poolLabels(k, "reason", r.label())).build());
                }
            }
        });
        return b.build();
    }

    private static HistogramSnapshot histogram(Map<PoolLabels.Key, PoolFigures> pools, String name, String help,
                                               Function<PoolFigures, PoolFigures.Histogram> of) {
        HistogramSnapshot.Builder b = HistogramSnapshot.builder().name(name).help(help);
        pools.forEach((k, f) -> {
            if (k != PoolFigures.NO_POOL) {
                PoolFigures.Histogram h = of.apply(f);
                b.dataPoint(HistogramDataPointSnapshot.builder()
                        .classicHistogramBuckets(ClassicHistogramBuckets.of(BOUNDS_SECONDS, h.counts))
                        .sum(h.sumMicros / MICROS_PER_SECOND)
                        .labels(poolLabels(k)).build());
            }
        });
        return b.build();
    }

    /** Clusters: hosts by state and role, the primary, failovers and switchovers. */
    private List<MetricSnapshot> failover() {
        io.pgproxy.failover.FailoverCoordinator f = server.failover();
        GaugeSnapshot.Builder up = GaugeSnapshot.builder().name("pgproxy_host_up")
                .help("1 while a host answers its health checks (clusters only; single hosts are not checked).");
        GaugeSnapshot.Builder primary = GaugeSnapshot.builder().name("pgproxy_host_primary")
                .help("1 for the host a database's new backends go to.");
        for (io.pgproxy.failover.Cluster c : f.clusters()) {
            for (io.pgproxy.failover.HostHealth h : c.hosts()) {
                Labels l = Labels.of("database", c.database(), "host", h.address().toString());
                if (c.isChecked()) {
                    up.dataPoint(GaugeDataPointSnapshot.builder().value(
                            h.state() == io.pgproxy.failover.HostState.UP ? 1 : 0).labels(l).build());
                }
                primary.dataPoint(GaugeDataPointSnapshot.builder().value(
                        h.address().equals(c.currentPrimary()) ? 1 : 0).labels(l).build());
            }
        }
        return List.of(up.build(), primary.build(),
                single("pgproxy_failovers", "Times a cluster's primary moved to another host without a switchover.",
                        f.failovers()),
                single("pgproxy_switchovers", "Switchovers done (SWITCHOVER, or a reload that moved a database).",
                        f.switchovers()),
                single("pgproxy_switchover_aborted_transactions",
                        "Transactions still running when a switchover's bound passed, whose backends it closed.",
                        f.abortedBySwitchover()),
                CounterSnapshot.builder().name("pgproxy_switchover_stall_seconds")
                        .help("Time new transactions waited at switchovers, summed.")
                        .dataPoint(CounterDataPointSnapshot.builder()
                                .value(f.switchoverStallMicros() / MICROS_PER_SECOND).build()).build());
    }

    private static CounterSnapshot single(String name, String help, long value) {
        return CounterSnapshot.builder().name(name).help(help)
                .dataPoint(CounterDataPointSnapshot.builder().value(value).build()).build();
    }

    private CounterSnapshot refusals() {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name("pgproxy_client_refusals")
                .help("Clients turned away, by reason.");
        server.counters().refusals().forEach((r, n) -> b.dataPoint(
                CounterDataPointSnapshot.builder().value(n).labels(Labels.of("reason", label(r))).build()));
        return b.build();
    }

    private CounterSnapshot errors() {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name("pgproxy_errors_sent")
                .help("ErrorResponses the proxy sent clients itself (not relayed from a backend), by SQLSTATE class.");
        server.counters().errorsByClass().forEach((c, n) -> b.dataPoint(
                CounterDataPointSnapshot.builder().value(n).labels(Labels.of("class", c)).build()));
        return b.build();
    }

    /** Label values in lower case, as Prometheus conventions have them: {@code state="idle"}. */
    private static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    private static double[] boundsSeconds() {
        long[] micros = LatencyHistogram.boundsMicros();
        double[] s = new double[micros.length + 1];
        for (int i = 0; i < micros.length; i++) {
            s[i] = micros[i] / MICROS_PER_SECOND;
        }
        s[micros.length] = Double.POSITIVE_INFINITY;
        return s;
    }
}
