package io.pgproxy.admin;

import io.pgproxy.pool.Pool;
import io.pgproxy.pool.PoolStats;
import io.pgproxy.server.ProxyServer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static io.pgproxy.admin.Result.numeric;
import static io.pgproxy.admin.Result.text;

/**
 * SHOW STATS, STATS_TOTALS and STATS_AVERAGES: per database, summed over its pools, numeric as
 * PgBouncer sends them. Times are in microseconds. PgBouncer's averages cover its last
 * stats_period; these cover the time since the console started (the proxy's start), since the
 * pools keep totals only.
 */
final class Stats {
    private static final String[] NAMES = {"server_assignment_count", "xact_count", "query_count", "received",
            "sent", "xact_time", "query_time", "wait_time", "client_parse_count", "server_parse_count",
            "bind_count", "client_login_count"};

    private final ProxyServer server;
    private final long startNanos = System.nanoTime();

    Stats(ProxyServer server) {
        this.server = server;
    }

    /**
     * The totals of each database, in {@link #NAMES} order. Client parses, binds and logins are
     * not counted by the pools yet: 0.
     */
    private Map<String, long[]> byDatabase() {
        Map<String, long[]> byDatabase = new TreeMap<>();
        for (Pool p : server.leases().pools()) {
            PoolStats s = p.stats();
            long[] t = byDatabase.computeIfAbsent(p.name(), k -> new long[NAMES.length]);
            long[] v = {p.acquiredTotal(), s.transactions(), s.queries(), s.bytesReceived(), s.bytesSent(),
                    s.transactionMicros(), s.queryMicros(), s.waitMicros(), 0, p.preparedStatements().prepares(), 0, 0};
            for (int i = 0; i < v.length; i++) {
                t[i] += v[i];
            }
        }
        return byDatabase;
    }

    /** Rates per second since the start; times as the mean duration per transaction, query and assignment. */
    private long[] averages(long[] t) {
        long seconds = Math.max(1, (System.nanoTime() - startNanos) / 1_000_000_000L);
        long[] a = new long[t.length];
        for (int i = 0; i < t.length; i++) {
            a[i] = t[i] / seconds;
        }
        a[5] = t[1] == 0 ? 0 : t[5] / t[1];
        a[6] = t[2] == 0 ? 0 : t[6] / t[2];
        a[7] = t[0] == 0 ? 0 : t[7] / t[0];
        return a;
    }

    Result stats() {
        List<Result.Column> columns = new ArrayList<>();
        columns.add(text("database"));
        for (String n : NAMES) {
            columns.add(numeric("total_" + n));
        }
        for (String n : NAMES) {
            columns.add(numeric("avg_" + (n.equals("received") ? "recv" : n)));
        }
        Result r = new Result(columns);
        byDatabase().forEach((db, t) -> {
            Object[] row = new Object[1 + 2 * NAMES.length];
            row[0] = db;
            long[] a = averages(t);
            for (int i = 0; i < NAMES.length; i++) {
                row[1 + i] = t[i];
                row[1 + NAMES.length + i] = a[i];
            }
            r.row(row);
        });
        return r;
    }

    Result totals() {
        return table(false);
    }

    Result averages() {
        return table(true);
    }

    private Result table(boolean averages) {
        List<Result.Column> columns = new ArrayList<>();
        columns.add(text("database"));
        for (int i = 0; i < NAMES.length; i++) {
            String n = i < 3 || i > 7 ? NAMES[i] : NAMES[i].equals("received") || NAMES[i].equals("sent")
                    ? "bytes_" + NAMES[i] : NAMES[i];
            columns.add(numeric(averages && i >= 8 ? "avg_" + n : n));
        }
        Result r = new Result(columns);
        byDatabase().forEach((db, t) -> {
            long[] v = averages ? averages(t) : t;
            Object[] row = new Object[1 + NAMES.length];
            row[0] = db;
            for (int i = 0; i < NAMES.length; i++) {
                row[1 + i] = v[i];
            }
            r.row(row);
        });
        return r;
    }
}
