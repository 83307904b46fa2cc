package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.session.PinReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.Sql.one;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backend handed from one client to another in transaction mode carries nothing of the first
 * client's session, whatever statement changed it; and the first client keeps what it set. One
 * backend in the pool, so the second client always gets the first one's backend.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class SessionIsolationIT {
    private static PostgresFixture pg;
    private static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) throws SQLException {
        pg = database;
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("CREATE ROLE iso_app NOLOGIN");
            s.execute("CREATE ROLE iso_other NOLOGIN");
            s.execute("GRANT iso_other TO " + PostgresFixture.TRUST_USER);
            // A change no command tag, report or statement text reveals.
            s.execute("CREATE FUNCTION iso_hidden_settings() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
                    + "PERFORM set_config('work_mem', '1234kB', false); "
                    + "PERFORM set_config('search_path', 'pg_catalog', false); END $$");
        }
        // The superuser logs in through the proxy as itself (database app has no backend user).
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg)
                + "pgproxy.pool { mode = transaction, size = 1 }\n"
                + "pgproxy.users.postgres { auth = trust }\n");
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
    }

    private static Connection connect(String user, String db) throws SQLException {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "0");
        return proxy.connect(user, null, db, p);
    }

    @Test
    void setSessionAuthorizationStaysWithItsClientAndPinsIt() throws SQLException {
        // Two backends: B must get one, and gets the one A used if A gave it back.
        try (ProxyFixture two = ProxyFixture.start(ProxyFixture.standardConfig(pg)
                + "pgproxy.pool { mode = transaction, size = 2 }\n"
                + "pgproxy.users.postgres { auth = trust }\n")) {
            long before = two.pins(PinReason.IDENTITY);
            Properties p = new Properties();
            p.setProperty("prepareThreshold", "0");
            try (Connection a = two.connect(PostgresFixture.SUPERUSER, null, "app", p); Statement sa = a.createStatement();
                 Connection b = two.connect(PostgresFixture.SUPERUSER, null, "app", p); Statement sb = b.createStatement()) {
                sa.execute("SET SESSION AUTHORIZATION iso_app");
                assertEquals(before + 1, two.pins(PinReason.IDENTITY));
                assertEquals("postgres postgres", one(sb, "SELECT current_user || ' ' || session_user"));
                assertEquals("iso_app iso_app", one(sa, "SELECT current_user || ' ' || session_user"));
                assertEquals("postgres postgres", one(sb, "SELECT current_user || ' ' || session_user"));
            }
        }
    }

    @Test
    void whateverAClientChangedIsGoneWhenItsBackendServesAnother() throws SQLException {
        try (Connection a = connect(PostgresFixture.SUPERUSER, "app"); Statement sa = a.createStatement();
             Connection b = connect(PostgresFixture.SUPERUSER, "app"); Statement sb = b.createStatement()) {
            String defaultWorkMem = one(sb, "SHOW work_mem");
            int pid = Integer.parseInt(one(sa, "SELECT pg_backend_pid()"));
            // No command tag or report reveals a function's set_config of an unreported parameter.
            sa.execute("SELECT iso_hidden_settings()");
            assertEquals("1234kB", one(sa, "SHOW work_mem"));
            assertEquals(pid, Integer.parseInt(one(sb, "SELECT pg_backend_pid()")), "one backend: B got A's");
            assertEquals(defaultWorkMem, one(sb, "SHOW work_mem"));
            assertEquals("\"$user\", public", one(sb, "SHOW search_path"));
        }
    }

    @Test
    void setConfigOfAnUnreportedParameterPinsAndStaysWithItsClient() throws SQLException {
        long before = proxy.pins(PinReason.UNTRACKED_SET);
        try (Connection a = connect(PostgresFixture.SUPERUSER, "app"); Statement sa = a.createStatement()) {
            sa.execute("SELECT set_config('work_mem', '1234kB', false)");
            assertEquals(before + 1, proxy.pins(PinReason.UNTRACKED_SET));
            assertEquals("1234kB", one(sa, "SHOW work_mem"));
            // Local to its transaction: nothing to pin.
            sa.execute("SELECT set_config('statement_timeout', '5min', true)");
            assertEquals(before + 1, proxy.pins(PinReason.UNTRACKED_SET));
        }
    }

    @Test
    void setRoleBetweenOrdinaryRolesPinsAndDoesNotLeak() throws SQLException {
        long before = proxy.pins(PinReason.IDENTITY);
        try (Connection a = connect(PostgresFixture.TRUST_USER, "app_trust"); Statement sa = a.createStatement()) {
            sa.execute("SET ROLE iso_other");
            assertEquals("iso_other", one(sa, "SELECT current_user"));
            assertEquals(before + 1, proxy.pins(PinReason.IDENTITY));
            assertEquals("iso_other", one(sa, "SELECT current_user"), "pinned: its next transaction keeps the role");
        }
        try (Connection b = connect(PostgresFixture.TRUST_USER, "app_trust"); Statement sb = b.createStatement()) {
            assertEquals(PostgresFixture.TRUST_USER, one(sb, "SELECT current_user"));
        }
    }

    @Test
    void aDateStyleSetWithOneWordFollowsTheClientAsTheServerReportedIt() throws Exception {
        // pgjdbc refuses a DateStyle other than ISO, so B speaks the protocol itself.
        try (Connection a = connect(PostgresFixture.SUPERUSER, "app"); Statement sa = a.createStatement();
             PgWire b = PgWire.connect(proxy.port(), Duration.ofSeconds(20))) {
            b.loginTrust(PostgresFixture.SUPERUSER, "app");
            sa.execute("SET datestyle TO dmy");
            assertEquals("ISO, DMY", one(sa, "SHOW DateStyle"));
            b.write(PgWire.query("SET datestyle TO Postgres"));
            b.readUntilReady();
            // A lands on the backend B left in Postgres style: "dmy" replayed there would give
            // "Postgres, DMY".
            assertEquals("ISO, DMY", one(sa, "SHOW DateStyle"));
            assertEquals("2026-12-02", one(sa, "SELECT '02/12/2026'::date::text"));
            b.write(PgWire.query("SHOW DateStyle"));
            String shown = b.readUntilReady().stream().filter(m -> m.tag() == 'D').findFirst().map(m -> new String(m.body(), StandardCharsets.UTF_8)).orElseThrow();
            assertTrue(shown.contains("Postgres, MDY"), shown);
        }
    }

    @Test
    void aSetFollowsItsClientOnlyIfItsTransactionCommitted() throws SQLException {
        long untracked = proxy.pins(PinReason.UNTRACKED_SET);
        try (Connection a = connect(PostgresFixture.SUPERUSER, "app"); Statement sa = a.createStatement();
             Connection b = connect(PostgresFixture.SUPERUSER, "app"); Statement sb = b.createStatement()) {
            String defaultWorkMem = one(sb, "SHOW work_mem");
            a.setAutoCommit(false);
            sa.execute("SET work_mem = '7MB'");
            a.rollback();
            sa.execute("SET work_mem = '5MB'");
            sa.execute("SET LOCAL statement_timeout = '1min'");
            a.commit();
            sa.execute("SET work_mem = '6MB'");
            sa.execute("SELECT 1");
            a.rollback();
            a.setAutoCommit(true);
            // B takes the one backend, which is reset; A's next transaction brings A's session back.
            assertEquals(defaultWorkMem, one(sb, "SHOW work_mem"));
            assertEquals("5MB", one(sa, "SHOW work_mem"), "the committed SET, not the rolled-back ones");
            assertEquals("0", one(sa, "SHOW statement_timeout"));
            assertEquals(untracked, proxy.pins(PinReason.UNTRACKED_SET), "SET LOCAL pins nothing");
        }
    }

    @Test
    void aValueTheServerRefusesAfterAcceptingItEndsOnlyThatSession() throws SQLException {
        try (Connection admin = pg.superuser(pg.db()); Statement sd = admin.createStatement()) {
            sd.execute("CREATE TEXT SEARCH CONFIGURATION public.iso_cfg (COPY = pg_catalog.english)");
        }
        try (Connection a = connect(PostgresFixture.SUPERUSER, "app"); Statement sa = a.createStatement();
             Connection b = connect(PostgresFixture.SUPERUSER, "app"); Statement sb = b.createStatement()) {
            sa.execute("SET default_text_search_config = 'public.iso_cfg'");
            assertEquals("public.iso_cfg", one(sa, "SHOW default_text_search_config"));
            assertEquals("pg_catalog.english", one(sb, "SHOW default_text_search_config"), "B took the one backend");
            try (Connection admin = pg.superuser(pg.db()); Statement sd = admin.createStatement()) {
                sd.execute("DROP TEXT SEARCH CONFIGURATION public.iso_cfg");
            }
            // A's values go ahead of its request, in one write; the server now refuses one.
            SQLException e = assertThrows(SQLException.class, () -> one(sa, "SELECT 1"));
            assertEquals("22023", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("could not be restored"), e.getMessage());
            assertTrue(a.isClosed() || !a.isValid(2), "A's session ended");
            assertEquals("1", one(sb, "SELECT 1"), "B, on the same backend, goes on");
            assertEquals("pg_catalog.english", one(sb, "SHOW default_text_search_config"));
        }
    }

    @Test
    void trackedIsolationBringsOverWhatTheProxyFollowsAndNothingElse() throws SQLException {
        try (ProxyFixture tracked = ProxyFixture.start(ProxyFixture.standardConfig(pg)
                + "pgproxy.pool { mode = transaction, size = 1, session-isolation = tracked }\n"
                + "pgproxy.users.postgres { auth = trust }\n")) {
            try (Connection admin = pg.superuser(pg.db()); Statement sd = admin.createStatement()) {
                sd.execute("CREATE FUNCTION iso_hidden_maintenance_work_mem() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
                        + "PERFORM set_config('maintenance_work_mem', '77MB', false); END $$");
            }
            Properties p = new Properties();
            p.setProperty("prepareThreshold", "0");
            try (Connection a = tracked.connect(PostgresFixture.SUPERUSER, null, "app", p); Statement sa = a.createStatement();
                 Connection b = tracked.connect(PostgresFixture.SUPERUSER, null, "app", p); Statement sb = b.createStatement()) {
                String defaultWorkMem = one(sb, "SHOW work_mem");
                sa.execute("SET work_mem = '5MB'");
                sa.execute("SET application_name = 'tracked-a'");
                assertEquals(defaultWorkMem, one(sb, "SHOW work_mem"), "A's SET goes back to the default for B");
                assertEquals("PostgreSQL JDBC Driver", one(sb, "SHOW application_name"), "B's own startup value");
                assertEquals("5MB", one(sa, "SHOW work_mem"));
                assertEquals("tracked-a", one(sa, "SHOW application_name"));
                // What no message shows is not followed, as with PgBouncer: the documented trade.
                sa.execute("SELECT iso_hidden_maintenance_work_mem()");
                assertEquals("77MB", one(sb, "SHOW maintenance_work_mem"), "tracked isolation does not reset the backend");
            }
        }
    }

    @Test
    void aStartupValueTheServerRefusesRefusesTheLoginWithItsSqlState() throws SQLException {
        Properties bad = new Properties();
        bad.setProperty("options", "-c work_mem=abc");
        SQLException e = assertThrows(SQLException.class, () -> proxy.connect(PostgresFixture.SUPERUSER, null, "app", bad).close());
        assertEquals("22023", e.getSQLState(), "at login, as PostgreSQL: " + e.getMessage());
        Properties unknown = new Properties();
        unknown.setProperty("options", "-c no_such_guc=1");
        e = assertThrows(SQLException.class, () -> proxy.connect(PostgresFixture.SUPERUSER, null, "app", unknown).close());
        assertEquals("42704", e.getSQLState(), e.getMessage());
        Properties good = new Properties();
        good.setProperty("options", "-c work_mem=3MB");
        try (Connection c = proxy.connect(PostgresFixture.SUPERUSER, null, "app", good); Statement s = c.createStatement()) {
            assertEquals("3MB", one(s, "SHOW work_mem"), "a value the server takes logs in and applies");
        }
    }
}
