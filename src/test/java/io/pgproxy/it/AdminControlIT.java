package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static io.pgproxy.it.ConsoleClient.*;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The admin console's PAUSE, RESUME, RECONNECT, WAIT_CLOSE and KILL against live traffic: pgbench
 * through the proxy must see no failed transaction while its backends are paused and replaced.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class AdminControlIT {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    private static long xacts(Connection admin, String db) throws SQLException {
        return longOf(rowFor(admin, "SHOW STATS_TOTALS", "database", db), "xact_count");
    }

    private static Set<String> backendPids(Connection admin, String db) throws SQLException {
        return show(admin, "SHOW SERVERS").stream().filter(r -> r.get("database").equals(db))
                .map(r -> r.get("remote_pid")).collect(Collectors.toSet());
    }

    private static CompletableFuture<String> selectOneLater(ProxyFixture proxy, String db) {
        return CompletableFuture.supplyAsync(() -> {
            try (Connection c = proxy.connect(TRUST_USER, null, db); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT 1")) {
                rs.next();
                return rs.getString(1);
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void pauseResumeAndReconnectUnderPgbenchFailNoTransaction(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(PGBENCH), "pgbench not installed");
        Run init = tool(Map.of("PGHOST", pg.host(), "PGPORT", String.valueOf(pg.port()), "PGUSER", TRUST_USER,
                "PGDATABASE", pg.db()), List.of(PGBENCH.toString(), "-i", "-s", "1", "-q"), dir, 120);
        assertEquals(0, init.exit(), init.output());
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, ""); Connection admin = admin(proxy);
             Statement console = admin.createStatement()) {
            Started bench = start(Map.of("PGHOST", "127.0.0.1", "PGPORT", String.valueOf(proxy.port()),
                    "PGUSER", TRUST_USER, "PGDATABASE", "app"),
                    List.of(PGBENCH.toString(), "-n", "-c", "4", "-j", "2", "-T", "20"), dir);
            await().atMost(WAIT).until(() -> xacts(admin, "app") > 100);

            // PAUSE returns once no transaction runs; pgbench's clients then queue for a backend.
            console.execute("PAUSE app");
            Map<String, String> paused = rowFor(admin, "SHOW POOLS", "database", "app");
            assertEquals("0", paused.get("sv_active"), paused.toString());
            assertEquals("1", paused.get("paused"));
            await().atMost(WAIT).until(() -> intOf(rowFor(admin, "SHOW POOLS", "database", "app"), "cl_waiting") == 4);
            await().atMost(WAIT).untilAsserted(() -> {
                Map<String, String> p = rowFor(admin, "SHOW POOLS", "database", "app");
                assertTrue(intOf(p, "maxwait") * 1_000_000L + intOf(p, "maxwait_us") > 0, p.toString());
                List<Map<String, String>> waiting = show(admin, "SHOW CLIENTS").stream()
                        .filter(r -> r.get("state").equals("waiting")).toList();
                assertEquals(4, waiting.size(), waiting.toString());
                assertTrue(waiting.stream().allMatch(r -> r.get("application_name").equals("pgbench")), waiting.toString());
            });
            long frozen = xacts(admin, "app");
            CompletableFuture<String> newcomer = selectOneLater(proxy, "app");
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5))
                    .until(() -> xacts(admin, "app") == frozen && !newcomer.isDone());
            assertEquals("0", rowFor(admin, "SHOW DATABASES", "name", "app_trust").get("paused"), "only app paused");

            console.execute("RESUME app");
            assertEquals("1", newcomer.get(WAIT.toSeconds(), TimeUnit.SECONDS));
            await().atMost(WAIT).until(() -> xacts(admin, "app") > frozen + 100);

            // RECONNECT: every backend of the moment closes once free; pgbench goes on on new ones.
            Set<String> before = backendPids(admin, "app");
            assertFalse(before.isEmpty());
            console.execute("RECONNECT app");
            console.execute("WAIT_CLOSE app");
            await().atMost(WAIT).until(() -> {
                Set<String> now = backendPids(admin, "app");
                return !now.isEmpty() && now.stream().noneMatch(before::contains);
            });
            try (Connection su = pg.superuser(pg.db());
                 PreparedStatement q = su.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY (?)")) {
                Array pids = su.createArrayOf("int4", before.stream().map(Integer::valueOf).toArray());
                q.setArray(1, pids);
                await().atMost(WAIT).until(() -> {
                    try (ResultSet rs = q.executeQuery()) {
                        rs.next();
                        return rs.getInt(1) == 0;
                    }
                });
            }
            long afterReconnect = xacts(admin, "app");
            await().atMost(WAIT).until(() -> xacts(admin, "app") > afterReconnect + 100);

            // A global PAUSE and RESUME while pgbench runs.
            console.execute("PAUSE");
            assertEquals("0", rowFor(admin, "SHOW POOLS", "database", "app").get("sv_active"));
            console.execute("RESUME");

            assertTrue(bench.process().waitFor(90, TimeUnit.SECONDS), "pgbench did not finish");
            String out = bench.output();
            assertEquals(0, bench.process().exitValue(), out);
            assertTrue(out.contains("number of failed transactions: 0 "), out);
            Matcher m = Pattern.compile("number of transactions actually processed: (\\d+)").matcher(out);
            assertTrue(m.find(), out);
            assertTrue(Long.parseLong(m.group(1)) > 0, out);
        }
    }

    @Test
    void killEndsTheDatabasesClientsAndHoldsNewOnesUntilResume() throws Exception {
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, ""); Connection admin = admin(proxy);
             Statement console = admin.createStatement();
             Connection idle = proxy.connect(TRUST_USER, null, "app_trust");
             Connection inTransaction = proxy.connect(TRUST_USER, null, "app_trust");
             Connection other = proxy.connect(TRUST_USER, null, "app")) {
            inTransaction.setAutoCommit(false);
            try (Statement s = inTransaction.createStatement()) {
                s.execute("SELECT 1");
            }
            try (Statement s = other.createStatement()) {
                s.execute("SELECT 1");
            }
            console.execute("KILL app_trust");
            for (Connection killed : List.of(idle, inTransaction)) {
                assertThrows(SQLException.class, () -> {
                    try (Statement s = killed.createStatement()) {
                        s.execute("SELECT 1");
                    }
                });
            }
            await().atMost(WAIT).until(() -> backendPids(admin, "app_trust").isEmpty());
            await().atMost(WAIT).until(() -> show(admin, "SHOW CLIENTS").stream()
                    .noneMatch(r -> r.get("database").equals("app_trust")));
            try (Statement s = other.createStatement()) {
                s.execute("SELECT 1");
            }

            CompletableFuture<String> newcomer = selectOneLater(proxy, "app_trust");
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> !newcomer.isDone());
            console.execute("RESUME app_trust");
            assertEquals("1", newcomer.get(WAIT.toSeconds(), TimeUnit.SECONDS));
        }
    }
}
