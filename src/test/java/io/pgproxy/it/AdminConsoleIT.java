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
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static io.pgproxy.it.ConsoleClient.*;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The admin console's SHOW commands and roles, through pgjdbc (simple query mode) and psql: the
 * figures must be what the test itself made the proxy do, under PgBouncer's column names.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class AdminConsoleIT {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    private static Connection client(ProxyFixture proxy, String db) throws SQLException {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "0");
        return proxy.connect(TRUST_USER, null, db, p);
    }

    private static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test
    void poolsClientsAndServersShowWhatTheClientsHold(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(PSQL), "psql not installed");
        List<Connection> clients = new ArrayList<>();
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, ""); Connection admin = admin(proxy)) {
            for (int i = 0; i < 7; i++) {
                Connection c = client(proxy, "app_trust");
                clients.add(c);
                assertEquals("1", one(c, "SELECT 1"));
            }
            // Three of the seven hold a backend inside an open transaction; the others hold none.
            Set<String> pids = new java.util.HashSet<>();
            for (Connection c : clients.subList(0, 3)) {
                c.setAutoCommit(false);
                pids.add(one(c, "SELECT pg_backend_pid()"));
            }

            await().atMost(WAIT).until(() -> intOf(rowFor(admin, "SHOW POOLS", "database", "app_trust"), "sv_active") == 3
                    && intOf(rowFor(admin, "SHOW POOLS", "database", "app_trust"), "sv_used") == 0);
            ConsoleClient.Run psql = ConsoleClient.psql(proxy, SCRAM_USER, SCRAM_PW, dir, "SHOW POOLS");
            assertEquals(0, psql.exit(), psql.output());
            Map<String, String> pool = csv(psql.output()).stream()
                    .filter(r -> r.get("database").equals("app_trust")).findFirst().orElseThrow();
            assertEquals("7", pool.get("cl_active"), "PgBouncer counts clients holding no backend as active too");
            assertEquals("0", pool.get("cl_waiting"));
            assertEquals("3", pool.get("sv_active"));
            assertEquals("0", pool.get("sv_login"));
            assertEquals("transaction", pool.get("pool_mode"));
            assertEquals(TRUST_USER, pool.get("user"));
            assertEquals(List.of("database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
                    "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
                    "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode", "load_balance_hosts"),
                    new ArrayList<>(types(admin, "SHOW POOLS").keySet()).subList(0, 17), "PgBouncer's columns first");
            assertEquals("int4", types(admin, "SHOW POOLS").get("cl_active"));
            assertEquals("text", types(admin, "SHOW POOLS").get("database"));

            List<Map<String, String>> shown = show(admin, "SHOW CLIENTS");
            List<Map<String, String>> mine = shown.stream().filter(r -> r.get("database").equals("app_trust")).toList();
            assertEquals(7, mine.size(), shown.toString());
            assertEquals(3, mine.stream().filter(r -> r.get("state").equals("active")).count(), mine.toString());
            assertEquals(4, mine.stream().filter(r -> r.get("state").equals("idle")).count(), mine.toString());
            assertTrue(shown.stream().anyMatch(r -> r.get("database").equals("pgbouncer") && r.get("user").equals(SCRAM_USER)),
                    "the console lists itself: " + shown);
            Set<String> links = mine.stream().map(r -> r.get("link")).filter(l -> !l.isEmpty()).collect(Collectors.toSet());
            assertEquals(3, links.size());

            List<Map<String, String>> servers = show(admin, "SHOW SERVERS").stream()
                    .filter(r -> r.get("database").equals("app_trust")).toList();
            List<Map<String, String>> active = servers.stream().filter(r -> r.get("state").equals("active")).toList();
            assertEquals(pids, active.stream().map(r -> r.get("remote_pid")).collect(Collectors.toSet()),
                    "SHOW SERVERS names the backends the clients run on: " + servers);
            assertEquals(links, active.stream().map(r -> r.get("ptr")).collect(Collectors.toSet()));
            assertEquals(Set.of(), servers.stream().map(r -> r.get("state"))
                    .filter(s -> !s.equals("active") && !s.equals("idle")).collect(Collectors.toSet()));
            for (Connection c : clients.subList(0, 3)) {
                c.commit();
            }
            await().atMost(WAIT).until(() -> intOf(rowFor(admin, "SHOW POOLS", "database", "app_trust"), "sv_active") == 0);
        } finally {
            for (Connection c : clients) {
                c.close();
            }
        }
    }

    @Test
    void statsCountTheTransactionsAndQueriesRun() throws Exception {
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, ""); Connection admin = admin(proxy)) {
            Properties simple = new Properties();
            simple.setProperty("preferQueryMode", "simple");
            try (Connection c = proxy.connect(TRUST_USER, null, "app_md5", simple); Statement s = c.createStatement()) {
                s.execute("SELECT 1");
                await().atMost(WAIT).until(() -> rowFor(admin, "SHOW STATS_TOTALS", "database", "app_md5") != null);
                Map<String, String> before = rowFor(admin, "SHOW STATS_TOTALS", "database", "app_md5");
                for (int i = 0; i < 10; i++) {
                    s.execute("SELECT " + i);
                }
                for (int i = 0; i < 5; i++) {
                    s.execute("BEGIN");
                    s.execute("SELECT " + i);
                    s.execute("COMMIT");
                }
                await().atMost(WAIT).untilAsserted(() -> {
                    Map<String, String> after = rowFor(admin, "SHOW STATS_TOTALS", "database", "app_md5");
                    assertEquals(15, longOf(after, "xact_count") - longOf(before, "xact_count"), after.toString());
                    assertEquals(25, longOf(after, "query_count") - longOf(before, "query_count"), after.toString());
                    Map<String, String> stats = rowFor(admin, "SHOW STATS", "database", "app_md5");
                    assertEquals(after.get("xact_count"), stats.get("total_xact_count"));
                    assertEquals(after.get("query_count"), stats.get("total_query_count"));
                });
            }
            assertEquals("numeric", types(admin, "SHOW STATS").get("total_xact_count"));
            assertNotNull(rowFor(admin, "SHOW STATS_AVERAGES", "database", "app_md5").get("xact_time"));
        }
    }

    @Test
    void everyShowAnswersWithPgBouncersColumns() throws Exception {
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, ""); Connection stats = console(proxy, MD5_USER, MD5_PW)) {
            Map<String, List<String>> first = Map.of(
                    "SHOW DATABASES", List.of("name", "host", "port", "database", "force_user", "pool_size"),
                    "SHOW USERS", List.of("name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections"),
                    "SHOW STATS_TOTALS", List.of("database", "server_assignment_count", "xact_count", "query_count",
                            "bytes_received", "bytes_sent", "xact_time", "query_time", "wait_time"),
                    "SHOW STATS_AVERAGES", List.of("database", "server_assignment_count", "xact_count"),
                    "SHOW CONFIG", List.of("key", "value", "default", "changeable"),
                    "SHOW LISTS", List.of("list", "items"),
                    "SHOW VERSION", List.of("version"),
                    "SHOW CLIENTS", List.of("type", "user", "database", "replication", "state", "addr", "port"),
                    "SHOW SERVERS", List.of("type", "user", "database", "replication", "state", "addr", "port"));
            for (var e : first.entrySet()) {
                List<String> columns = new ArrayList<>(types(stats, e.getKey()).keySet());
                assertEquals(e.getValue(), columns.subList(0, e.getValue().size()), e.getKey());
            }
            assertTrue(show(stats, "SHOW VERSION").getFirst().get("version").startsWith("pgproxy "));
            Map<String, String> app = rowFor(stats, "SHOW DATABASES", "name", "app_trust");
            assertEquals(pg.db(), app.get("database"));
            assertEquals(TRUST_USER, app.get("force_user"));
            assertEquals("20", app.get("pool_size"));
            assertEquals("30s", rowFor(stats, "SHOW CONFIG", "key", "pgproxy.pool.wait-timeout").get("value"));
            assertEquals("transaction", rowFor(stats, "SHOW CONFIG", "key", "pgproxy.pool.mode").get("value"));
            assertEquals("session", rowFor(stats, "SHOW CONFIG", "key", "pgproxy.pool.mode").get("default"));
            assertEquals("3", rowFor(stats, "SHOW LISTS", "list", "users").get("items"));
            try (Statement s = stats.createStatement()) {
                s.execute("SHOW HELP");
                assertTrue(s.getWarnings().getMessage().contains("Console usage"), s.getWarnings().getMessage());
            }
        }
    }

    private static void assertRefused(Connection c, String command, String sqlState) {
        SQLException e = assertThrows(SQLException.class, () -> {
            try (Statement s = c.createStatement()) {
                s.execute(command);
            }
        }, command);
        assertEquals(sqlState, e.getSQLState(), command + ": " + e.getMessage());
    }

    private static final List<String> ADMIN_COMMANDS = List.of("PAUSE", "PAUSE app", "RESUME", "RESUME app",
            "RECONNECT", "RECONNECT app", "KILL app", "RELOAD", "SHUTDOWN", "WAIT_CLOSE", "WAIT_CLOSE app");

    @Test
    void rolesAreCheckedOnEveryCommand(@TempDir Path dir) throws Exception {
        AtomicInteger shutdowns = new AtomicInteger();
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, "", () -> null, shutdowns::incrementAndGet);
             Connection nobody = console(proxy, TRUST_USER, null);
             Connection stats = console(proxy, MD5_USER, MD5_PW)) {
            List<String> all = new ArrayList<>(ADMIN_COMMANDS);
            all.addAll(List.of("SHOW POOLS", "SHOW CLIENTS", "SHOW HELP", "SHOW VERSION", "FROBNICATE"));
            for (String command : all) {
                assertRefused(nobody, command, "42501");
            }
            for (String command : List.of("SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW DATABASES", "SHOW USERS",
                    "SHOW STATS", "SHOW STATS_TOTALS", "SHOW STATS_AVERAGES", "SHOW CONFIG", "SHOW LISTS", "show version;")) {
                assertNotNull(show(stats, command), command);
            }
            for (String command : ADMIN_COMMANDS) {
                assertRefused(stats, command, "42501");
            }
            assertEquals(0, shutdowns.get());
            assertRefused(stats, "FROBNICATE", "42601");
            assertRefused(stats, "SHOW NOTHING", "42601");

            if (Files.isExecutable(PSQL)) {
                ConsoleClient.Run r = ConsoleClient.psql(proxy, MD5_USER, MD5_PW, dir, "PAUSE");
                assertEquals(1, r.exit(), r.output());
                assertTrue(r.output().contains("admin access needed"), r.output());
            }

            // A reload that takes the role away applies to the session already open.
            proxy.reload(ProxyFixture.standardConfig(pg) + "pgproxy.pool.mode = transaction\n"
                    + "pgproxy.admin-users = [scram_user]\n");
            assertRefused(stats, "SHOW POOLS", "42501");
        }
    }

    @Test
    void theExtendedProtocolIsRefusedAsPgBouncerDoes() throws Exception {
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, "");
             Connection extended = proxy.connect(SCRAM_USER, SCRAM_PW, "pgbouncer")) {
            SQLException e = assertThrows(SQLException.class, () -> show(extended, "SHOW POOLS"));
            assertTrue(e.getMessage().contains("extended query protocol not supported"), e.getMessage());
        }
    }

    @Test
    void reloadAndShutdownRunTheGivenActions() throws Exception {
        AtomicInteger reloads = new AtomicInteger();
        AtomicInteger shutdowns = new AtomicInteger();
        try (ProxyFixture proxy = ConsoleClient.proxy(pg, "", () -> {
            if (reloads.incrementAndGet() > 1) {
                throw new IllegalStateException("pgproxy.pool.size: must be between 1 and 10000, was 0");
            }
            return null;
        }, shutdowns::incrementAndGet); Connection admin = admin(proxy); Statement s = admin.createStatement()) {
            s.execute("RELOAD");
            assertEquals(1, reloads.get());
            SQLException e = assertThrows(SQLException.class, () -> s.execute("RELOAD"));
            assertEquals("F0000", e.getSQLState());
            assertTrue(e.getMessage().contains("pool.size"), e.getMessage());
            s.execute("SHUTDOWN");
            await().atMost(WAIT).until(() -> shutdowns.get() == 1);
        }
    }
}
