package io.pgproxy.it;

import io.pgproxy.admin.AdminConsole;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.ReplicationPair;
import io.pgproxy.pool.Pool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static io.pgproxy.fixtures.Sql.one;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A cluster of a real primary and a standby streaming from it ({@link ReplicationPair}) behind
 * pgproxy: the primary killed and the standby promoted, then a planned switchover under load.
 * Clients keep their sessions, settings and prepared statements; only what was in flight at a
 * kill fails, with 08006.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class FailoverIT {
    @TempDir
    Path dir;
    private ReplicationPair pair;
    private ProxyFixture proxy;
    private final List<Connection> clients = new ArrayList<>();
    /** The workers block for the whole test: the common pool (one thread on two cores) would starve the rest. */
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

    @BeforeEach
    void start() throws Exception {
        pair = ReplicationPair.start(dir);
        String verifier;
        try (Connection c = pair.primaryConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")) {
            rs.next();
            verifier = rs.getString(1);
        }
        try (Connection c = ReplicationPair.connect(pair.primaryPort(), ReplicationPair.APP_USER,
                ReplicationPair.APP_PW, ReplicationPair.APP_DB); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE ledger (id int PRIMARY KEY, at int DEFAULT inet_server_port())");
        }
        pair.awaitStandbyCaughtUp();
        String hocon = """
                pgproxy {
                  listen { host = "127.0.0.1", port = 0 }
                  pool { mode = transaction, size = 10 }
                  failover { check-interval = 200ms, check-timeout = 1s, fall-count = 2, rise-count = 1,
                             primary-wait-timeout = 20s, switchover-timeout = 10s, max-replica-lag = 64KiB }
                  users { app { password = "%s" } }
                  admin-users = [app]
                  databases {
                    appdb { host = "127.0.0.1,127.0.0.1", port = "%2$d,%3$d", user = app, password = "app_pw" }
                    appdb_ro { host = "127.0.0.1,127.0.0.1", port = "%2$d,%3$d", dbname = appdb, user = app,
                               password = "app_pw", target-session-attrs = standby }
                    appdb_session { host = "127.0.0.1,127.0.0.1", port = "%2$d,%3$d", dbname = appdb, user = app,
                                    password = "app_pw", mode = session }
                    appdb_any { host = "127.0.0.1,127.0.0.1", port = "%2$d,%3$d", dbname = appdb, user = app,
                                password = "app_pw", target-session-attrs = prefer-standby }
                    appdb_replay { host = "127.0.0.1,127.0.0.1", port = "%2$d,%3$d", dbname = appdb, user = app,
                                   password = "app_pw", transaction-replay = true }
                  }
                }
                """.formatted(verifier, pair.primaryPort(), pair.standbyPort());
        proxy = ProxyFixture.start(hocon, server -> new AdminConsole(server, () -> null, () -> { }));
        await().atMost(10, TimeUnit.SECONDS).until(() -> primaryPort() == pair.primaryPort());
    }

    @AfterEach
    void stop() throws Exception {
        threads.shutdownNow();
        for (Connection c : clients) {
            c.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (pair != null) {
            pair.close();
        }
    }

    /** A client of appdb through the proxy whose statements are prepared on the server from their first use. */
    private Connection client(String applicationName) throws SQLException {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "1");
        p.setProperty("ApplicationName", applicationName);
        Connection c = proxy.connect(ReplicationPair.APP_USER, ReplicationPair.APP_PW, ReplicationPair.APP_DB, p);
        clients.add(c);
        return c;
    }

    /** A client of appdb_session, the same cluster in session pooling. */
    private Connection sessionClient(String applicationName) throws SQLException {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "1");
        p.setProperty("ApplicationName", applicationName);
        Connection c = proxy.connect(ReplicationPair.APP_USER, ReplicationPair.APP_PW, "appdb_session", p);
        clients.add(c);
        return c;
    }

    private Connection console() throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple");
        Connection c = proxy.connect(ReplicationPair.APP_USER, ReplicationPair.APP_PW, "pgbouncer", p);
        clients.add(c);
        return c;
    }

    private int primaryPort() throws SQLException {
        try (Connection c = proxy.connect(ReplicationPair.APP_USER, ReplicationPair.APP_PW, "pgbouncer", simple())) {
            for (Map<String, String> row : ConsoleClient.show(c, "SHOW HOSTS")) {
                if ("1".equals(row.get("primary"))) {
                    return Integer.parseInt(row.get("port"));
                }
            }
            return 0;
        }
    }

    private static Properties simple() {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple");
        return p;
    }

    private List<Integer> ledgerOnStandby() throws SQLException {
        List<Integer> ids = new ArrayList<>();
        try (Connection c = ReplicationPair.connect(pair.standbyPort(), ReplicationPair.APP_USER, ReplicationPair.APP_PW,
                ReplicationPair.APP_DB); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id FROM ledger ORDER BY id")) {
            while (rs.next()) {
                ids.add(rs.getInt(1));
            }
        }
        return ids;
    }

    @Test
    void primaryKilledAndStandbyPromoted() throws Exception {
        List<Connection> idle = new ArrayList<>();
        List<PreparedStatement> prepared = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Connection c = client("idle_" + i);
            PreparedStatement ps = c.prepareStatement("SELECT ? + 1, current_setting('application_name')");
            ps.setInt(1, i);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
            }
            idle.add(c);
            prepared.add(ps);
        }
        // Session pooling on a cluster: idle sessions move too, unless they hold what cannot.
        Connection sessionClient = sessionClient("session_idle");
        PreparedStatement sessionPs = sessionClient.prepareStatement("SELECT ? * 2, current_setting('work_mem')");
        try (Statement s = sessionClient.createStatement()) {
            s.execute("SET work_mem = '7MB'");
        }
        sessionPs.setInt(1, 21);
        try (ResultSet rs = sessionPs.executeQuery()) {
            rs.next();
        }
        Connection sessionTemp = sessionClient("session_temp");
        try (Statement s = sessionTemp.createStatement()) {
            s.execute("CREATE TEMPORARY TABLE stays_here (x int)");
        }
        try (Statement s = client("writer").createStatement()) {
            for (int id = 1; id <= 50; id++) {
                s.execute("INSERT INTO ledger (id) VALUES (" + id + ")");
            }
        }
        pair.awaitStandbyCaughtUp();

        Connection inFlight = client("in_flight");
        inFlight.setAutoCommit(false);
        Statement fs = inFlight.createStatement();
        fs.execute("INSERT INTO ledger (id) VALUES (1000)");
        CompletableFuture<SQLException> sleeping = CompletableFuture.supplyAsync(() -> {
            try {
                fs.execute("SELECT pg_sleep(60)");
                return null;
            } catch (SQLException e) {
                return e;
            }
        }, threads);
        // With transaction replay: a transaction that wrote and read, its last statement in
        // flight at the kill, completes on the new primary as if nothing happened.
        Connection replayed = proxy.connect(ReplicationPair.APP_USER, ReplicationPair.APP_PW, "appdb_replay");
        clients.add(replayed);
        replayed.setAutoCommit(false);
        Statement replayedStatement = replayed.createStatement();
        replayedStatement.execute("INSERT INTO ledger (id) VALUES (2000)");
        assertEquals("50", one(replayedStatement, "SELECT count(*) FROM ledger WHERE id <= 50"));
        // The statement waits for an advisory lock held on the old primary, which the kill
        // releases (no sleep racing the kill); nobody holds it on the new primary.
        Connection gate = pair.primaryConnection();
        try (Statement g = gate.createStatement()) {
            g.execute("SELECT pg_advisory_lock(7014002)");
        }
        String replayedSql = "SELECT 'replayed ' || pg_advisory_xact_lock_shared(7014002)";
        java.util.concurrent.Future<Object> replaying = threads.submit(() -> {
            try {
                return one(replayedStatement, replayedSql);
            } catch (SQLException e) {
                return e;
            }
        });
        await().atMost(10, TimeUnit.SECONDS).until(() -> {
            try (Connection c = pair.primaryConnection(); Statement s = c.createStatement()) {
                return one(s, "SELECT count(*) FROM pg_stat_activity WHERE query IN ('SELECT pg_sleep(60)', '"
                        + replayedSql.replace("'", "''") + "')").equals("2");
            }
        });

        pair.killPrimary();
        gate.close();
        SQLException lost = sleeping.get(20, TimeUnit.SECONDS);
        assertEquals("08006", lost.getSQLState(), lost.getMessage());
        pair.promoteStandby();
        assertEquals("replayed ", replaying.get(30, TimeUnit.SECONDS), "replayed on the new primary, every reply matched");
        replayedStatement.execute("INSERT INTO ledger (id) VALUES (2001)");
        replayed.commit();
        assertEquals(1, proxy.pool("appdb_replay").stats().replaysMatchedTotal());

        inFlight.rollback();
        fs.execute("INSERT INTO ledger (id) VALUES (1001)");
        inFlight.commit();
        assertEquals(pair.standbyPort(), Integer.parseInt(one(fs, "SELECT inet_server_port()")),
                "the in-flight client's session went on, on the new primary");

        for (int i = 0; i < idle.size(); i++) {
            PreparedStatement ps = prepared.get(i);
            ps.setInt(1, i);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertEquals(i + 1, rs.getInt(1), "the prepared statement of idle client " + i + " still runs");
                assertEquals("idle_" + i, rs.getString(2), "its settings came along");
            }
            try (Statement s = idle.get(i).createStatement()) {
                assertEquals(pair.standbyPort(), Integer.parseInt(one(s, "SELECT inet_server_port()")));
            }
        }
        sessionPs.setInt(1, 21);
        try (ResultSet rs = sessionPs.executeQuery()) {
            rs.next();
            assertEquals(42, rs.getInt(1), "the session-mode client's prepared statement moved with it");
            assertEquals("7MB", rs.getString(2), "and its SET");
        }
        try (Statement s = sessionClient.createStatement()) {
            assertEquals(pair.standbyPort(), Integer.parseInt(one(s, "SELECT inet_server_port()")));
        }
        SQLException ended = assertThrows(SQLException.class, () -> {
            try (Statement s = sessionTemp.createStatement()) {
                s.execute("SELECT 1");
            }
        });
        assertTrue(ended.getSQLState().startsWith("08"), ended.getSQLState() + " " + ended.getMessage());
        List<Integer> ids = ledgerOnStandby();
        assertEquals(53, ids.size(), "every committed row and nothing of the lost transaction: " + ids);
        assertTrue(ids.contains(1001) && !ids.contains(1000));
        assertTrue(ids.contains(2000) && ids.contains(2001), "the replayed transaction committed once: " + ids);
        assertEquals(pair.standbyPort(), primaryPort());
        // Counted per database: the aliases of this cluster each saw it.
        assertTrue(proxy.server().failover().failovers() >= 1);
    }

    @Test
    void switchoverUnderLoadFailsNoTransaction() throws Exception {
        AtomicInteger nextId = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger committed = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        List<CompletableFuture<Void>> workers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            // Half in transaction pooling, half in session pooling: both pass the switchover.
            Connection c = w < 2 ? client("worker_" + w) : sessionClient("worker_" + w);
            String name = "worker_" + w;
            workers.add(CompletableFuture.runAsync(() -> {
                try (PreparedStatement insert = c.prepareStatement("INSERT INTO ledger (id) VALUES (?)");
                     PreparedStatement setting = c.prepareStatement("SELECT current_setting('application_name')")) {
                    c.setAutoCommit(false);
                    while (running.get()) {
                        try {
                            insert.setInt(1, nextId.incrementAndGet());
                            insert.executeUpdate();
                            try (ResultSet rs = setting.executeQuery()) {
                                rs.next();
                                if (!name.equals(rs.getString(1))) {
                                    throw new SQLException("application_name lost: " + rs.getString(1));
                                }
                            }
                            c.commit();
                            committed.incrementAndGet();
                        } catch (SQLException e) {
                            failures.incrementAndGet();
                            c.rollback();
                        }
                    }
                } catch (SQLException e) {
                    failures.incrementAndGet();
                }
            }, threads));
        }
        await().atMost(20, TimeUnit.SECONDS).until(() -> committed.get() > 100);
        // Each database alias is switched over on its own.
        List<CompletableFuture<Void>> switchovers = new ArrayList<>();
        for (String db : List.of("appdb", "appdb_session")) {
            Connection console = console();
            switchovers.add(CompletableFuture.runAsync(() -> {
                try (Statement s = console.createStatement()) {
                    s.execute("SWITCHOVER " + db + " 127.0.0.1:" + pair.standbyPort());
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            }, threads));
        }
        // Promote only once nothing runs on the old primary: what committed there is then all
        // on the standby, as an operator's planned switchover would have it. Session-mode
        // clients leave their backends at their next transaction boundary.
        await().atMost(20, TimeUnit.SECONDS).until(() -> Stream.of("appdb", "appdb_session").allMatch(db ->
                proxy.server().leases().gate(db).isPaused()
                        && proxy.server().leases().pools(db).stream().allMatch(Pool::isDrained)));
        int beforeSwitch = committed.get();
        pair.awaitStandbyCaughtUp();
        pair.promoteStandby();
        for (CompletableFuture<Void> switchover : switchovers) {
            switchover.get(30, TimeUnit.SECONDS);
        }
        await().atMost(20, TimeUnit.SECONDS).until(() -> committed.get() > beforeSwitch + 100);
        running.set(false);
        CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);

        assertEquals(0, failures.get(), "no transaction failed across the switchover");
        assertEquals(committed.get(), ledgerOnStandby().size(), "every committed row is on the new primary, once");
        assertEquals(pair.standbyPort(), primaryPort());
        assertEquals(2, proxy.server().failover().switchovers());
        assertTrue(proxy.server().leases().pools("appdb_session").stream().mapToLong(p -> p.stats().sessionsMovedTotal())
                .sum() >= 2, "both session-mode workers left their backend to follow the switchover");
        assertEquals(0, proxy.server().failover().failovers(), "a switchover is not counted as a failover");
    }

    @Test
    void readOnlyDatabasesReadFromTheStandbyUntilItFallsBehind() throws Exception {
        Properties p = new Properties();
        Connection ro = proxy.connect(ReplicationPair.APP_USER, ReplicationPair.APP_PW, "appdb_ro", p);
        Connection any = proxy.connect(ReplicationPair.APP_USER, ReplicationPair.APP_PW, "appdb_any", p);
        clients.add(ro);
        clients.add(any);
        Statement roS = ro.createStatement();
        Statement anyS = any.createStatement();
        await().atMost(10, TimeUnit.SECONDS).until(() -> one(roS, "SELECT inet_server_port()")
                .equals(String.valueOf(pair.standbyPort())));
        assertEquals("t", one(roS, "SELECT pg_is_in_recovery()"));
        assertEquals(String.valueOf(pair.standbyPort()), one(anyS, "SELECT inet_server_port()"));

        try (Connection standby = pair.standbyConnection(); Statement st = standby.createStatement()) {
            st.execute("SELECT pg_wal_replay_pause()");
            try (Connection primary = ReplicationPair.connect(pair.primaryPort(), ReplicationPair.APP_USER,
                    ReplicationPair.APP_PW, ReplicationPair.APP_DB); Statement ps = primary.createStatement()) {
                ps.execute("INSERT INTO ledger (id) SELECT g FROM generate_series(1, 20000) g");
            }
            // Each database checks its hosts on its own: both must have seen the lag.
            await().atMost(10, TimeUnit.SECONDS).until(() -> ConsoleClient.show(console(), "SHOW HOSTS").stream()
                    .filter(r -> (r.get("database").equals("appdb_ro") || r.get("database").equals("appdb_any"))
                            && r.get("port").equals(String.valueOf(pair.standbyPort()))
                            && Long.parseLong(r.get("lag_bytes")) > 64 * 1024).count() == 2);
            assertEquals(String.valueOf(pair.primaryPort()), one(anyS, "SELECT inet_server_port()"),
                    "prefer-standby reads from the primary while the standby is too far behind");

            CompletableFuture<String> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    return one(roS, "SELECT inet_server_port()");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            st.execute("SELECT pg_wal_replay_resume()");
            assertEquals(String.valueOf(pair.standbyPort()), waiting.get(20, TimeUnit.SECONDS),
                    "standby-only reads waited for the standby to catch up instead of failing");
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> one(roS, "SELECT count(*) FROM ledger").equals("20000"));

        // A primary that refuses writes (default_transaction_read_only, as an operator demotes
        // one before a switchover) is no primary, as libpq's read-write check has it.
        try (Connection c = pair.primaryConnection(); Statement s = c.createStatement()) {
            s.execute("ALTER SYSTEM SET default_transaction_read_only = on");
            s.execute("SELECT pg_reload_conf()");
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> primaryPort() == 0);
        assertTrue(ConsoleClient.show(console(), "SHOW HOSTS").stream().anyMatch(r -> r.get("database").equals("appdb")
                && r.get("port").equals(String.valueOf(pair.primaryPort())) && r.get("role").equals("read_only")));
        try (Connection c = pair.primaryConnection(); Statement s = c.createStatement()) {
            s.execute("ALTER SYSTEM RESET default_transaction_read_only");
            s.execute("SELECT pg_reload_conf()");
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> primaryPort() == pair.primaryPort());
    }
}
