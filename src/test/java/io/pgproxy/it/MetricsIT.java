package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.metrics.MetricsServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The metrics endpoint against a known load through pgjdbc: every counter must equal what the
 * test did, read back from {@code /metrics} in the Prometheus text format, as a scraper would.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class MetricsIT {
    private static final String DB = "app_trust";
    private static final String USER = PostgresFixture.TRUST_USER;
    private static final Map<String, String> POOL = Map.of("database", DB, "user", USER);
    private static final Duration WAIT = Duration.ofSeconds(20);

    private static PostgresFixture pg;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    private static Connection connect(ProxyFixture proxy, String db) throws SQLException {
        Properties p = new Properties();
        // No server-side prepared statements: every statement is one request the test can count.
        p.setProperty("prepareThreshold", "0");
        return proxy.connect(USER, null, db, p);
    }

    /** One series of a scrape: its name and labels. */
    private record Series(String name, Map<String, String> labels) {
    }

    /** A scrape, parsed: the text format is "name{k="v",...} value" per line, "#" lines are comments. */
    private Map<Series, Double> scrape(MetricsServer metrics) throws IOException, InterruptedException {
        HttpResponse<String> r = get(metrics, "/metrics");
        assertEquals(200, r.statusCode(), r.body());
        Map<Series, Double> out = new HashMap<>();
        for (String line : r.body().split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            String series = line.substring(0, space);
            double value = Double.parseDouble(line.substring(space + 1));
            int brace = series.indexOf('{');
            Map<String, String> labels = new HashMap<>();
            String name = brace < 0 ? series : series.substring(0, brace);
            if (brace >= 0) {
                // Our label values contain no commas or quotes, so a plain split is exact here.
                for (String kv : series.substring(brace + 1, series.length() - 1).split(",")) {
                    int eq = kv.indexOf('=');
                    labels.put(kv.substring(0, eq), kv.substring(eq + 2, kv.length() - 1));
                }
            }
            out.put(new Series(name, labels), value);
        }
        return out;
    }

    private static double value(Map<Series, Double> scrape, String name, Map<String, String> labels) {
        Double v = scrape.get(new Series(name, labels));
        assertTrue(v != null, () -> "no series " + name + labels + " in " + scrape.keySet());
        return v;
    }

    private static Map<String, String> with(Map<String, String> labels, String k, String v) {
        Map<String, String> m = new HashMap<>(labels);
        m.put(k, v);
        return m;
    }

    private double value(MetricsServer metrics, String name, Map<String, String> labels) throws Exception {
        return value(scrape(metrics), name, labels);
    }

    private HttpResponse<String> get(MetricsServer metrics, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metrics.port() + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void countersEqualWhatTheClientsDid() throws Exception {
        int clients = 3, transactions = 4, queriesPerTransaction = 5;
        try (ProxyFixture proxy = ProxyFixture.startTransactionPooling(pg, "");
             MetricsServer metrics = MetricsServer.start(proxy.server(), "127.0.0.1", 0, 100)) {
            List<Connection> conns = new ArrayList<>();
            try {
                for (int i = 0; i < clients; i++) {
                    conns.add(connect(proxy, DB));
                }
                Map<Series, Double> before = scrape(metrics);
                try (ExecutorService ex = Executors.newFixedThreadPool(clients)) {
                    List<Future<?>> done = new ArrayList<>();
                    for (Connection c : conns) {
                        done.add(ex.submit(() -> {
                            // Explicit BEGIN and COMMIT, each one request (one Sync), so the
                            // test knows what goes over the wire; pgjdbc's own autocommit-off
                            // preamble is its business.
                            try (Statement s = c.createStatement()) {
                                for (int t = 0; t < transactions; t++) {
                                    s.execute("BEGIN");
                                    for (int q = 0; q < queriesPerTransaction; q++) {
                                        s.executeQuery("SELECT " + q).close();
                                    }
                                    s.execute("COMMIT");
                                }
                            }
                            return null;
                        }));
                    }
                    // Scrapes while the load runs: each must succeed and no counter may go back.
                    double last = 0;
                    while (!done.stream().allMatch(Future::isDone)) {
                        double now = value(metrics, "pgproxy_transactions_total", POOL);
                        assertTrue(now >= last, "a counter went back from " + last + " to " + now);
                        last = now;
                    }
                    for (Future<?> f : done) {
                        f.get();
                    }
                }
                int tx = clients * transactions;
                // Each request is answered by one ReadyForQuery: BEGIN, the SELECTs, COMMIT.
                int queries = tx * (queriesPerTransaction + 2);
                await().atMost(WAIT).until(() -> value(metrics, "pgproxy_transactions_total", POOL)
                        - value(before, "pgproxy_transactions_total", POOL) == tx);
                Map<Series, Double> after = scrape(metrics);
                assertEquals(queries, value(after, "pgproxy_queries_total", POOL)
                        - value(before, "pgproxy_queries_total", POOL));
                assertEquals(tx, value(after, "pgproxy_transaction_duration_seconds_count", POOL)
                        - value(before, "pgproxy_transaction_duration_seconds_count", POOL));
                assertEquals(queries, value(after, "pgproxy_query_duration_seconds_count", POOL)
                        - value(before, "pgproxy_query_duration_seconds_count", POOL));
                // Transaction pooling: at most one lease per transaction (a client whose next
                // BEGIN arrives before its backend settled keeps it), and one wait per lease.
                double leases = value(after, "pgproxy_leases_total", POOL) - value(before, "pgproxy_leases_total", POOL);
                assertTrue(leases >= clients && leases <= tx, "leases " + leases);
                assertEquals(leases, value(after, "pgproxy_backend_wait_seconds_count", POOL)
                        - value(before, "pgproxy_backend_wait_seconds_count", POOL));
                assertEquals(value(after, "pgproxy_backend_wait_seconds_count", POOL),
                        value(after, "pgproxy_backend_wait_seconds_bucket", with(POOL, "le", "+Inf")),
                        "the +Inf bucket holds every observation");
                await().atMost(WAIT).until(() -> value(metrics, "pgproxy_clients", with(POOL, "state", "idle")) == clients);

                // One client holds its backend inside a transaction: it and one backend are active.
                try (Statement s = conns.getFirst().createStatement()) {
                    s.execute("BEGIN");
                    await().atMost(WAIT).until(() -> value(metrics, "pgproxy_clients", with(POOL, "state", "active")) == 1);
                    Map<Series, Double> busy = scrape(metrics);
                    assertEquals(clients - 1, value(busy, "pgproxy_clients", with(POOL, "state", "idle")));
                    assertEquals(1, value(busy, "pgproxy_backends", with(POOL, "state", "active")));
                    s.execute("COMMIT");
                }
            } finally {
                for (Connection c : conns) {
                    c.close();
                }
            }
        }
    }

    @Test
    void bytesPinsRefusalsAndErrorsAreCounted() throws Exception {
        int size = 100_000;
        try (ProxyFixture proxy = ProxyFixture.startTransactionPooling(pg, "");
             MetricsServer metrics = MetricsServer.start(proxy.server(), "127.0.0.1", 0, 100);
             Connection c = connect(proxy, DB); Statement s = c.createStatement()) {
            Map<Series, Double> before = scrape(metrics);
            String big = "x".repeat(size);
            try (ResultSet rs = s.executeQuery("SELECT '" + big + "'")) {
                rs.next();
                assertEquals(big, rs.getString(1));
            }
            Map<Series, Double> after = scrape(metrics);
            double received = value(after, "pgproxy_client_received_bytes_total", POOL)
                    - value(before, "pgproxy_client_received_bytes_total", POOL);
            double sent = value(after, "pgproxy_client_sent_bytes_total", POOL)
                    - value(before, "pgproxy_client_sent_bytes_total", POOL);
            // The literal once each way, plus the protocol's framing: a few hundred bytes at most.
            assertTrue(received >= size && received < size + 1_000, "received " + received);
            assertTrue(sent >= size && sent < size + 1_000, "sent " + sent);

            s.execute("LISTEN metrics_it");
            await().atMost(WAIT).until(() -> value(metrics, "pgproxy_pins_total", with(POOL, "reason", "listen")) == 1);
            assertEquals(0, value(metrics, "pgproxy_pins_total", with(POOL, "reason", "advisory_lock")));

            assertThrows(SQLException.class, () -> connect(proxy, "no_such_database").close());
            Map<Series, Double> refused = scrape(metrics);
            assertEquals(1, value(refused, "pgproxy_client_refusals_total", Map.of("reason", "unknown_database")));
            assertEquals(0, value(refused, "pgproxy_client_refusals_total", Map.of("reason", "max_clients")));
            assertEquals(1, value(refused, "pgproxy_errors_sent_total", Map.of("class", "3D")));
            assertTrue(proxy.server().statsLines().getLast().contains("UNKNOWN_DATABASE=1"),
                    "the stats line shows refusals too");
        }
    }

    @Test
    void aClientRefusedAtMaxClientsIsCounted() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.startTransactionPooling(pg, "pgproxy.limits.max-clients = 1\n");
             MetricsServer metrics = MetricsServer.start(proxy.server(), "127.0.0.1", 0, 100);
             Connection held = connect(proxy, DB)) {
            SQLException e = assertThrows(SQLException.class, () -> connect(proxy, DB).close());
            assertEquals("53300", e.getSQLState());
            Map<Series, Double> m = scrape(metrics);
            assertEquals(1, value(m, "pgproxy_client_refusals_total", Map.of("reason", "max_clients")));
            assertEquals(1, value(m, "pgproxy_errors_sent_total", Map.of("class", "53")));
            assertTrue(held.isValid(5));
        }
    }

    @Test
    void poolsPastTheLabelCapAreAddedUpAsOther() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.startTransactionPooling(pg, "");
             MetricsServer metrics = MetricsServer.start(proxy.server(), "127.0.0.1", 0, 1);
             Connection c = connect(proxy, DB); Statement s = c.createStatement()) {
            Map<Series, Double> before = scrape(metrics);
            for (int i = 0; i < 3; i++) {
                s.executeQuery("SELECT 1").close();
            }
            Map<Series, Double> m = scrape(metrics);
            List<Map<String, String>> pools = m.keySet().stream()
                    .filter(k -> k.name().equals("pgproxy_transactions_total")).map(Series::labels).toList();
            // The standard config makes four pools with fixed users; one label set of its own, the rest together.
            assertEquals(2, pools.size(), pools.toString());
            Map<String, String> other = Map.of("database", "_other_", "user", "_other_");
            assertTrue(pools.contains(other), pools.toString());
            double total = pools.stream().mapToDouble(l -> value(m, "pgproxy_transactions_total", l)
                    - value(before, "pgproxy_transactions_total", l)).sum();
            assertEquals(3, total, "three statements outside a transaction, none lost by adding pools up");
        }
    }

    @Test
    void healthStaysUpAndReadinessFailsWhileDraining() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.startTransactionPooling(pg, "");
             MetricsServer metrics = MetricsServer.start(proxy.server(), "127.0.0.1", 0, 100)) {
            assertEquals(200, get(metrics, "/health").statusCode());
            assertEquals(200, get(metrics, "/ready").statusCode());
            Connection c = connect(proxy, DB);
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                // Inside a transaction the client is not idle, so the drain waits for it.
                s.executeQuery("SELECT 1").close();
                Thread drain = Thread.ofVirtual().start(() -> proxy.server().drain(Duration.ofSeconds(60)));
                await().atMost(WAIT).until(() -> get(metrics, "/ready").statusCode() == 503);
                assertEquals(200, get(metrics, "/health").statusCode(), "the process is still up");
                c.commit();
                drain.join(WAIT);
                assertEquals(503, get(metrics, "/ready").statusCode());
                // The drain closed the now idle client with 57P01: an error the proxy sent itself.
                assertEquals(1, value(metrics, "pgproxy_errors_sent_total", Map.of("class", "57")));
            } finally {
                c.close();
            }
        }
    }
}
