package io.pgproxy.it;

import io.pgproxy.config.ConfigDiff;
import io.pgproxy.fixtures.FaultyLink;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.Sql.one;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Configuration reload applied in process (SignalsIT sends the real SIGHUP): added, removed and
 * changed databases, while connected clients go on unaware.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class ReloadIT {
    private static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    private static String withDatabase(String name, String extra) {
        return ProxyFixture.standardConfig(pg) + "pgproxy.databases." + name + " { host = \"127.0.0.1\", port = "
                + pg.port() + ", dbname = \"" + pg.db() + "\", user = \"trust_user\"" + extra + " }\n";
    }

    @Test
    void databasesComeAndGoWithoutDisturbingConnectedClients() throws Exception {
        String base = ProxyFixture.standardConfig(pg);
        try (ProxyFixture proxy = ProxyFixture.start(base);
             Connection before = proxy.connect(PostgresFixture.TRUST_USER, null, "app_trust");
             Statement sb = before.createStatement()) {
            before.setAutoCommit(false);
            assertEquals("1", one(sb, "SELECT 1"));

            SQLException unknown = assertThrows(SQLException.class,
                    () -> proxy.connect(PostgresFixture.TRUST_USER, null, "extra"));
            assertEquals("3D000", unknown.getSQLState());

            proxy.reload(withDatabase("extra", ""));
            try (Connection added = proxy.connect(PostgresFixture.TRUST_USER, null, "extra");
                 Statement sa = added.createStatement()) {
                assertEquals("trust_user", one(sa, "SELECT current_user"));
            }
            assertEquals("2", one(sb, "SELECT 2"), "a client inside a transaction noticed nothing");

            // Remove app_trust: the connected client finishes its work, new ones are refused.
            String without = withDatabase("extra", "").replace("app_trust {", "app_trust_gone {");
            proxy.reload(without);
            assertEquals("3", one(sb, "SELECT 3"));
            before.commit();
            assertEquals("4", one(sb, "SELECT 4"), "still served after its transaction");
            SQLException gone = assertThrows(SQLException.class,
                    () -> proxy.connect(PostgresFixture.TRUST_USER, null, "app_trust"));
            assertEquals("3D000", gone.getSQLState());
        }
    }

    @Test
    void aChangedDatabaseServesNewClientsFromANewPool() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.start(withDatabase("moving", ""));
             Connection old = proxy.connect(PostgresFixture.TRUST_USER, null, "moving");
             Statement so = old.createStatement()) {
            int oldPid = Integer.parseInt(one(so, "SELECT pg_backend_pid()"));
            proxy.reload(withDatabase("moving", ", pool-size = 3"));
            try (Connection fresh = proxy.connect(PostgresFixture.TRUST_USER, null, "moving");
                 Statement sf = fresh.createStatement()) {
                assertNotEquals(oldPid, Integer.parseInt(one(sf, "SELECT pg_backend_pid()")));
            }
            assertEquals(oldPid, Integer.parseInt(one(so, "SELECT pg_backend_pid()")),
                    "the old client keeps its backend in session mode");
            long pools = proxy.server().leases().pools().stream().filter(p -> p.name().equals("moving")).count();
            assertEquals(2, pools, "old pool retired but alive while used, new pool serving");
        }
    }

    @Test
    void eachPoolsStatsLineCountsItsOwnClients() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.start(withDatabase("app_added", ""));
             Connection a1 = proxy.connect(PostgresFixture.TRUST_USER, null, "app_trust");
             Connection a2 = proxy.connect(PostgresFixture.TRUST_USER, null, "app_trust");
             Connection b1 = proxy.connect(PostgresFixture.TRUST_USER, null, "app_added")) {
            List<String> lines = proxy.server().statsLines();
            assertTrue(line(lines, "app_trust").contains(": clients 2,"), lines.toString());
            assertTrue(line(lines, "app_added").contains(": clients 1,"), lines.toString());
            assertTrue(line(lines, "app_md5").contains(": clients 0,"), lines.toString());
            assertTrue(lines.getLast().startsWith("stats: clients 3,"), lines.toString());
        }
    }

    static String line(List<String> lines, String pool) {
        return lines.stream().filter(l -> l.startsWith("stats: pool " + pool + " ")).findFirst()
                .orElseThrow(() -> new AssertionError("no stats line for " + pool + " in " + lines));
    }

    @Test
    void aRefusedPortChangeLeavesTheRunningPortInForce() {
        try (ProxyFixture proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg))) {
            int bound = proxy.port();
            int other = bound == 6432 ? 6433 : 6432;
            ConfigDiff moved = proxy.reload(ProxyFixture.standardConfig(pg).replace("port = 0 }", "port = " + other + " }"));
            assertEquals(List.of("pgproxy.listen.port"), moved.restartRequired());
            assertEquals(0, proxy.server().config().listen().port(), "the snapshot in force has the running port");
            assertEquals(bound, proxy.port());
            ConfigDiff back = proxy.reload(ProxyFixture.standardConfig(pg));
            assertTrue(back.restartRequired().isEmpty(), back.toString());
        }
    }

    @Test
    void aReloadThatMovesADatabaseToAnotherServerMovesItsClientsWithoutReconnecting() throws Exception {
        try (FaultyLink a = FaultyLink.to(pg.host(), pg.port()); FaultyLink b = FaultyLink.to(pg.host(), pg.port())) {
            String at = ProxyFixture.standardConfig(pg) + "pgproxy.pool.mode = transaction\n"
                    + "pgproxy.databases.moving { host = \"127.0.0.1\", port = %d, dbname = \"" + pg.db()
                    + "\", user = \"trust_user\" }\n";
            try (ProxyFixture proxy = ProxyFixture.start(at.formatted(a.port()));
                 Connection c = proxy.connect(PostgresFixture.TRUST_USER, null, "moving");
                 Statement s = c.createStatement()) {
                s.execute("SET application_name = 'mover'");
                c.setAutoCommit(false);
                assertEquals("1", one(s, "SELECT 1"));
                proxy.reload(at.formatted(b.port()));
                // The transaction open at the reload finishes where it began.
                assertEquals("2", one(s, "SELECT 2"));
                c.commit();
                c.setAutoCommit(true);
                org.awaitility.Awaitility.await().atMost(20, TimeUnit.SECONDS).until(() -> {
                    one(s, "SELECT 3");
                    return a.connections() == 0 && b.connections() > 0;
                });
                a.sever();
                assertEquals("mover", one(s, "SHOW application_name"), "the same session, on the new server");
                assertEquals(1, proxy.server().failover().switchovers());
            }
        }
    }

    @Test
    void aTransactionStillOpenWhenTheMoveGivesUpWaitingFailsAndItsSessionGoesOn() throws Exception {
        try (FaultyLink a = FaultyLink.to(pg.host(), pg.port()); FaultyLink b = FaultyLink.to(pg.host(), pg.port())) {
            String at = ProxyFixture.standardConfig(pg) + "pgproxy.pool.mode = transaction\n"
                    + "pgproxy.failover.switchover-timeout = 500ms\n"
                    + "pgproxy.databases.moving { host = \"127.0.0.1\", port = %d, dbname = \"" + pg.db()
                    + "\", user = \"trust_user\" }\n";
            try (ProxyFixture proxy = ProxyFixture.start(at.formatted(a.port()));
                 Connection c = proxy.connect(PostgresFixture.TRUST_USER, null, "moving");
                 Statement s = c.createStatement()) {
                s.execute("SET application_name = 'stayed_too_long'");
                c.setAutoCommit(false);
                assertEquals("1", one(s, "SELECT 1"));
                proxy.reload(at.formatted(b.port()));
                // Idle in its block past the bound: its backend is taken, its block fails.
                org.awaitility.Awaitility.await().atMost(20, TimeUnit.SECONDS)
                        .until(() -> proxy.server().failover().switchovers() == 1);
                assertEquals(1, proxy.server().failover().abortedBySwitchover());
                java.sql.SQLException failed = org.junit.jupiter.api.Assertions.assertThrows(java.sql.SQLException.class,
                        () -> one(s, "SELECT 2"));
                // Told at its next statement, as after any loss while idle in a block.
                assertEquals("08006", failed.getSQLState(), failed.getMessage());
                c.rollback();
                c.setAutoCommit(true);
                assertEquals("stayed_too_long", one(s, "SHOW application_name"), "the same session, on the new server");
                assertEquals(0, a.connections());
                assertTrue(b.connections() > 0);
            }
        }
    }
}
