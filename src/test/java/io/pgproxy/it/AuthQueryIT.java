package io.pgproxy.it;

import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.pool.RefusalReason;
import org.junit.jupiter.api.AfterAll;
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
import java.util.Properties;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Users missing from pgproxy.users, found by the auth query on the backend (PgBouncer's
 * auth_user/auth_query), with pgjdbc. The auth user is scram_user, an ordinary role, so the
 * lookup connection logs in with SCRAM; it calls a SECURITY DEFINER function shaped like the
 * default query (rolvaliduntil respected), which also records the search_path and
 * application_name its connection runs with. The looked-up roles (aq_*) exist only in
 * PostgreSQL; clients reach the backend as trust_user (database app_trust).
 */
@Timeout(90)
@ExtendWith(SharedPostgres.class)
class AuthQueryIT {
    static final Duration TTL = Duration.ofSeconds(2);
    static final String EVIL_PW = "evil_pw";

    static PostgresFixture pg;
    static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) throws SQLException {
        pg = database;
        String evilVerifier = ScramVerifier.fromPassword(EVIL_PW, 4096).encode();
        try (Connection su = pg.superuser(pg.db()); Statement st = su.createStatement()) {
            st.execute("SET password_encryption = 'scram-sha-256'");
            st.execute("CREATE ROLE aq_scram LOGIN PASSWORD 'aq_pw'");
            st.execute("CREATE ROLE aq_rotated LOGIN PASSWORD 'old_pw'");
            st.execute("CREATE ROLE aq_expired LOGIN PASSWORD 'aq_pw' VALID UNTIL '2000-01-01'");
            st.execute("CREATE ROLE aq_nologin NOLOGIN PASSWORD 'aq_pw'");
            st.execute("SET password_encryption = 'md5'");
            st.execute("CREATE ROLE aq_md5 LOGIN PASSWORD 'aq_md5_pw'");
            st.execute("CREATE TABLE public.auth_log (search_path text, application_name text)");
            // The default query's shape, for a role that may not read pg_authid itself. No SET
            // search_path on purpose: it must see, and record, the lookup connection's own.
            st.execute("""
                    CREATE FUNCTION public.pgproxy_lookup(u text, OUT name text, OUT secret text) RETURNS SETOF record
                    LANGUAGE sql SECURITY DEFINER AS $$
                      INSERT INTO public.auth_log VALUES (current_setting('search_path'), current_setting('application_name'));
                      SELECT rolname::text, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END
                      FROM pg_catalog.pg_authid WHERE rolname = u AND rolcanlogin
                    $$""");
            st.execute("REVOKE ALL ON FUNCTION public.pgproxy_lookup(text) FROM PUBLIC");
            st.execute("GRANT EXECUTE ON FUNCTION public.pgproxy_lookup(text) TO " + SCRAM_USER);
            // What CVE-2025-12819 exploits: a same-named function earlier on a search_path the
            // client chooses, answering a verifier the attacker knows for every name.
            st.execute("CREATE SCHEMA evil");
            st.execute("CREATE FUNCTION evil.pgproxy_lookup(u text, OUT name text, OUT secret text) RETURNS SETOF record "
                    + "LANGUAGE sql AS $$ SELECT u, '" + evilVerifier + "'::text $$");
            st.execute("GRANT USAGE ON SCHEMA evil TO PUBLIC");
        }
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + """
                pgproxy.auth-query {
                  auth-user = scram_user
                  auth-password = scram_pw
                  query = "SELECT name, secret FROM pgproxy_lookup($1)"
                  cache-ttl = %ds
                }
                """.formatted(TTL.toSeconds()));
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
    }

    static String whoAmI(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user")) {
            assertTrue(rs.next());
            return rs.getString(1);
        }
    }

    static boolean logsIn(String user, String password) {
        try (Connection c = proxy.connect(user, password, "app_trust")) {
            return TRUST_USER.equals(whoAmI(c));
        } catch (SQLException e) {
            assertEquals("28P01", e.getSQLState(), e.getMessage());
            return false;
        }
    }

    static SQLException refused(String user, String password) {
        return assertThrows(SQLException.class, () -> proxy.connect(user, password, "app_trust").close());
    }

    @Test
    void aRoleFoundByTheAuthQueryLogsInWithItsScramVerifier() {
        assertTrue(logsIn("aq_scram", "aq_pw"));
        SQLException wrong = refused("aq_scram", "nope");
        assertEquals("28P01", wrong.getSQLState(), wrong.getMessage());
    }

    @Test
    void aRoleWithAnMd5HashLogsInWithMd5() {
        assertTrue(logsIn("aq_md5", "aq_md5_pw"));
        assertEquals("28P01", refused("aq_md5", "nope").getSQLState());
    }

    @Test
    void anExpiredRoleFailsExactlyAsAWrongPasswordWould() {
        long before = proxy.server().counters().refusals().get(RefusalReason.NO_PASSWORD);
        SQLException expired = refused("aq_expired", "aq_pw");
        SQLException wrong = refused("aq_scram", "nope");
        assertEquals("28P01", expired.getSQLState(), expired.getMessage());
        assertEquals(wrong.getMessage().replace("aq_scram", "aq_expired"), expired.getMessage());
        assertEquals(before + 1, proxy.server().counters().refusals().get(RefusalReason.NO_PASSWORD));
    }

    @Test
    void unknownAndNologinRolesCannotBeToldFromAWrongPassword() {
        SQLException wrong = refused("aq_scram", "nope");
        for (String user : List.of("aq_no_such_role", "aq_nologin")) {
            SQLException e = refused(user, "aq_pw");
            assertEquals("28P01", e.getSQLState(), e.getMessage());
            assertEquals(wrong.getMessage().replace("aq_scram", user), e.getMessage());
        }
    }

    @Test
    void aChangedPasswordShowsOnceTheCacheTtlPasses() throws SQLException {
        assertTrue(logsIn("aq_rotated", "old_pw"));
        try (Connection su = pg.superuser(pg.db()); Statement st = su.createStatement()) {
            st.execute("SET password_encryption = 'scram-sha-256'");
            st.execute("ALTER ROLE aq_rotated PASSWORD 'new_pw'");
        }
        long changedAt = System.nanoTime();
        boolean oldStillWorks = logsIn("aq_rotated", "old_pw");
        if (System.nanoTime() - changedAt < TTL.toNanos() / 2) {
            assertTrue(oldStillWorks, "the cached verifier is used until the TTL passes");
        }
        await().atMost(TTL.multipliedBy(5)).pollInterval(Duration.ofMillis(200))
                .until(() -> logsIn("aq_rotated", "new_pw"));
        assertFalse(logsIn("aq_rotated", "old_pw"));
    }

    @Test
    void clientStartupParametersNeverReachTheAuthQueryConnection() throws SQLException {
        // CVE-2025-12819: with the client's search_path the lookup would run evil.pgproxy_lookup
        // and accept evil_pw for any role; options could set it as well.
        Properties hostile = new Properties();
        hostile.setProperty("currentSchema", "evil,public");
        hostile.setProperty("options", "-c search_path=evil,public");
        hostile.setProperty("ApplicationName", "aq_hostile_client");
        for (String user : List.of("aq_scram", "aq_cve_unknown")) {
            SQLException e = assertThrows(SQLException.class, () -> proxy.connect(user, EVIL_PW, "app_trust", hostile).close());
            assertEquals("28P01", e.getSQLState(), e.getMessage());
        }
        // The same client parameters are fine for the client's own session once it logs in.
        try (Connection c = proxy.connect("aq_scram", "aq_pw", "app_trust", hostile)) {
            assertEquals(TRUST_USER, whoAmI(c));
        }
        List<String> seen = new ArrayList<>();
        try (Connection su = pg.superuser(pg.db()); Statement st = su.createStatement();
             ResultSet rs = st.executeQuery("SELECT search_path, application_name FROM public.auth_log")) {
            while (rs.next()) {
                seen.add(rs.getString(1) + " | " + rs.getString(2));
            }
        }
        assertFalse(seen.isEmpty(), "the lookups ran through the function");
        for (String s : seen) {
            assertFalse(s.contains("evil") || s.contains("aq_hostile_client"), "a lookup ran with a client's parameters: " + s);
        }
    }

    @Test
    void theDefaultQueryReadsPgAuthidAndRespectsRolvaliduntil() throws SQLException {
        // postgres (a superuser, trusted over TCP here) can read pg_authid, as the default query
        // needs; in production the auth user calls a SECURITY DEFINER function like the one above.
        try (ProxyFixture p = ProxyFixture.start(ProxyFixture.standardConfig(pg)
                + "pgproxy.auth-query { auth-user = postgres, cache-ttl = 0s }\n")) {
            try (Connection c = p.connect("aq_scram", "aq_pw", "app_trust")) {
                assertEquals(TRUST_USER, whoAmI(c));
            }
            SQLException expired = assertThrows(SQLException.class, () -> p.connect("aq_expired", "aq_pw", "app_trust").close());
            assertEquals("28P01", expired.getSQLState(), expired.getMessage());
        }
    }

    @Test
    void aBrokenAuthQueryRefusesWith08001AndCountsIt() {
        try (ProxyFixture p = ProxyFixture.start(ProxyFixture.standardConfig(pg)
                + "pgproxy.auth-query { auth-user = scram_user, auth-password = wrong_pw }\n")) {
            SQLException e = assertThrows(SQLException.class, () -> p.connect("aq_scram", "aq_pw", "app_trust").close());
            assertEquals("08001", e.getSQLState(), e.getMessage());
            assertFalse(e.getMessage().contains("wrong_pw"));
            assertEquals(1, p.server().counters().refusals().get(RefusalReason.AUTH_QUERY_FAILED));
            // A configured user never needs the auth query.
            assertDoesNotThrow(() -> p.connect(TRUST_USER, null, "app_trust").close());
        }
    }

    @Test
    void psqlLogsInAsARoleFoundByTheAuthQuery(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(ClientToolsIT.PSQL), "psql not installed");
        ClientToolsIT.Result ok = ClientToolsIT.run(ClientToolsIT.libpqEnv(proxy.port(), "aq_md5", "aq_md5_pw", "app_trust"),
                List.of(ClientToolsIT.PSQL.toString(), "-X", "-At", "-c", "SELECT current_user"), dir);
        assertEquals(0, ok.exit(), ok.output());
        assertEquals(TRUST_USER, ok.output().strip());
        ClientToolsIT.Result expired = ClientToolsIT.run(ClientToolsIT.libpqEnv(proxy.port(), "aq_expired", "aq_pw", "app_trust"),
                List.of(ClientToolsIT.PSQL.toString(), "-X", "-c", "SELECT 1"), dir);
        assertEquals(2, expired.exit(), expired.output());
        assertTrue(expired.output().contains("password authentication failed for user \"aq_expired\""), expired.output());
    }
}
