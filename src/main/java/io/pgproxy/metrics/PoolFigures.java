package io.pgproxy.metrics;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendState;
import io.pgproxy.client.ClientSession;
import io.pgproxy.client.ClientState;
import io.pgproxy.pool.LatencyHistogram;
import io.pgproxy.pool.Pool;
import io.pgproxy.pool.PoolStats;
import io.pgproxy.session.PinReason;
import io.pgproxy.session.StatementCounters;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One scrape's figures for one label set: the sum over every pool reported under it (several
 * share one after a reload replaced a pool, or past the label cap). Built fresh per scrape from
 * the live objects; nothing is kept between scrapes.
 */
final class PoolFigures {
    /** The label set of clients that are not in a pool yet (logging in, or refused before one). */
    static final PoolLabels.Key NO_POOL = new PoolLabels.Key("_none_", "_none_");

    final long[] clients = new long[ClientState.values().length];
    final long[] backends = new long[BackendState.values().length];
    final long[] pins = new long[PinReason.values().length];
    long transactions;
    long queries;
    long received;
    long sent;
    long unpins;
    long aborted;
    long sessionsLost;
    long sessionsMoved;
    long requestsRefused;
    long replays;
    long replaysMatched;
    final long[] replaysRefused = new long[io.pgproxy.pool.ReplayRefusal.values().length];
    long leases;
    long waitTimeouts;
    long prepares;
    long cacheHits;
    long evictions;
    final Histogram waits = new Histogram();
    final Histogram transactionTimes = new Histogram();
    final Histogram queryTimes = new Histogram();

    /** Bucket counts and sum of one {@link LatencyHistogram}, summed over pools. */
    static final class Histogram {
        final long[] counts = new long[LatencyHistogram.boundsMicros().length + 1];
        long sumMicros;

        void add(LatencyHistogram h) {
            long[] c = h.counts();
            for (int i = 0; i < c.length; i++) {
                counts[i] += c[i];
            }
            sumMicros += h.sumMicros();
        }
    }

    /**
     * Every pool's and every client's figures under its label set, in label order. Pools are
     * offered to {@code labels} in name order, so which ones get labels past the cap does not
     * depend on a hash map's iteration order.
     */
    static Map<PoolLabels.Key, PoolFigures> collect(Collection<Pool> pools, Collection<ClientSession> sessions,
                                                    PoolLabels labels) {
        Map<PoolLabels.Key, PoolFigures> byKey = new TreeMap<>(
                Comparator.comparing(PoolLabels.Key::database).thenComparing(PoolLabels.Key::user));
        List<Pool> sorted = pools.stream()
                .sorted(Comparator.comparing(Pool::name).thenComparing(p -> p.target().user())).toList();
        for (Pool p : sorted) {
            byKey.computeIfAbsent(labels.of(p.name(), p.target().user()), k -> new PoolFigures()).add(p);
        }
        for (ClientSession s : sessions) {
            Pool p = s.pool();
            PoolLabels.Key k = p == null ? NO_POOL : labels.of(p.name(), p.target().user());
            byKey.computeIfAbsent(k, x -> new PoolFigures()).clients[s.state().ordinal()]++;
        }
        return byKey;
    }

    private void add(Pool p) {
        for (BackendConnection b : p.connections()) {
            backends[b.state().ordinal()]++;
        }
        PoolStats s = p.stats();
        transactions += s.transactions();
        queries += s.queries();
        received += s.bytesReceived();
        sent += s.bytesSent();
        unpins += s.unpins();
        aborted += s.abortedTotal();
        sessionsLost += s.sessionsLostTotal();
        sessionsMoved += s.sessionsMovedTotal();
        requestsRefused += s.requestsRefusedTotal();
        replays += s.replaysTotal();
        replaysMatched += s.replaysMatchedTotal();
        long[] refused = s.replaysRefused();
        for (int i = 0; i < refused.length; i++) {
            replaysRefused[i] += refused[i];
        }
        s.pins().forEach((r, n) -> pins[r.ordinal()] += n);
        waits.add(s.waitTimes());
        transactionTimes.add(s.transactionTimes());
        queryTimes.add(s.queryTimes());
        leases += p.acquiredTotal();
        waitTimeouts += p.waitTimeoutsTotal();
        StatementCounters st = p.preparedStatements();
        prepares += st.prepares();
        cacheHits += st.hits();
        evictions += st.evictions();
    }
}
