package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
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
import java.util.List;
import java.util.Properties;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The hba rules (pgproxy.hba, pg_hba.conf's useful part) with real clients: pgjdbc, and psql for
 * what a libpq user reads. Every refusal is checked for its SQLSTATE, PostgreSQL's wording where it
 * has one, and the reason it is counted under. Clients connect from 127.0.0.1, and from 127.0.0.2
 * (pgjdbc's localSocketAddress) where a rule's address range is under test. The TLS-only pieces
 * (hostssl, SCRAM-SHA-256-PLUS, cert) are checked here only from the plaintext side; their TLS side
 * is unit-tested (AuthPolicyTest, ScramChannelBindingTest) until the TLS transport lands.
 */
@Timeout(60)
@ExtendWith(SharedPostgres.class)
class AuthRulesIT {
    static final String RULES = """
            pgproxy.hba = [
              { database = [pgbouncer, pgproxy], user = md5_user, method = reject }
              { database = [pgbouncer, pgproxy], method = scram-sha-256 }
              { database = app_scram, user = md5_user, method = reject }
              { database = app_scram, user = scram_user, method = scram-sha-256 }
              { database = app_clear, user = scram_user, method = password }
              { database = app_clear, user = md5_user, method = password, allow-without-tls = true }
              { database = app_md5, method = md5 }
              { database = app_trust, user = trust_user, address = "127.0.0.1/32", method = trust }
              { database = app_trust, user = scram_user, address = "127.0.0.1", method = scram-sha-256 }
              { database = app_trust, user = [md5_user, nobody_here], method = scram-sha-256 }
              { database = app_trust, user = not_a_role, method = trust }
              { database = app, type = hostssl, method = scram-sha-256-plus }
              { database = app, user = scram_user, method = scram-sha-256-plus }
            ]
            """;

    static PostgresFixture pg;
    static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) {
        pg = database;
        proxy = ConsoleClient.proxy(pg, RULES);
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
    }

    static String scalar(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertTrue(rs.next());
            return rs.getString(1);
        }
    }

    static Properties from(String localAddress) {
        Properties p = new Properties();
        p.setProperty("localSocketAddress", localAddress);
        return p;
    }

    /** Connecting fails with {@code sqlState}; the refusal is counted once under {@code reason}. */
    static SQLException refused(String sqlState, RefusalReason reason, String user, String password, String db, Properties extra) {
        long before = proxy.server().counters().refusals().get(reason);
        SQLException e = assertThrows(SQLException.class, () -> proxy.connect(user, password, db, extra).close());
        assertEquals(sqlState, e.getSQLState(), e.getMessage());
        assertEquals(before + 1, proxy.server().counters().refusals().get(reason), "counted as " + reason);
        return e;
    }

    static SQLException refused(String sqlState, RefusalReason reason, String user, String password, String db) {
        return refused(sqlState, reason, user, password, db, null);
    }

    @Test
    void aRejectRuleRefusesWith28000BeforeAnyPassword() {
        SQLException e = refused("28000", RefusalReason.HBA_REJECT, MD5_USER, MD5_PW, "app_scram");
        assertTrue(e.getMessage().contains("pg_hba.conf rejects connection for host \"127.0.0.1\", user \"md5_user\", "
                + "database \"app_scram\", no encryption"), e.getMessage());
    }

    @Test
    void noCoveringRuleIsRefusedInPostgresWords() {
        SQLException e = refused("28000", RefusalReason.NO_HBA_ENTRY, TRUST_USER, null, "app_scram");
        assertTrue(e.getMessage().contains("no pg_hba.conf entry for host \"127.0.0.1\", user \"trust_user\", "
                + "database \"app_scram\", no encryption"), e.getMessage());
    }

    @Test
    void psqlShowsTheNoEntryMessage(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(ClientToolsIT.PSQL), "psql not installed");
        ClientToolsIT.Result r = ClientToolsIT.run(ClientToolsIT.libpqEnv(proxy.port(), TRUST_USER, null, "app_scram"),
                List.of(ClientToolsIT.PSQL.toString(), "-X", "-c", "SELECT 1"), dir);
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains("no pg_hba.conf entry for host \"127.0.0.1\", user \"trust_user\", database \"app_scram\""),
                r.output());
        ClientToolsIT.Result ok = ClientToolsIT.run(ClientToolsIT.libpqEnv(proxy.port(), SCRAM_USER, SCRAM_PW, "app_scram"),
                List.of(ClientToolsIT.PSQL.toString(), "-X", "-At", "-c", "SELECT current_user"), dir);
        assertEquals(0, ok.exit(), ok.output());
        assertEquals(SCRAM_USER, ok.output().strip());
    }

    @Test
    void addressRangesDecideByTheClientsAddress() throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, "app_trust", from("127.0.0.1"))) {
            assertEquals(TRUST_USER, scalar(c, "SELECT current_user"));
        }
        SQLException e = refused("28000", RefusalReason.NO_HBA_ENTRY, TRUST_USER, null, "app_trust", from("127.0.0.2"));
        assertTrue(e.getMessage().contains("host \"127.0.0.2\""), e.getMessage());
        try (Connection c = proxy.connect(SCRAM_USER, SCRAM_PW, "app_trust", from("127.0.0.1"))) {
            assertEquals("1", scalar(c, "SELECT 1"));
        }
        refused("28000", RefusalReason.NO_HBA_ENTRY, SCRAM_USER, SCRAM_PW, "app_trust", from("127.0.0.2"));
    }

    @Test
    void aCleartextPasswordIsRefusedWithoutTlsUnlessTheRuleAllowsIt() throws SQLException {
        SQLException e = refused("28000", RefusalReason.TLS_REQUIRED, SCRAM_USER, SCRAM_PW, "app_clear");
        assertTrue(e.getMessage().contains("password authentication requires SSL"), e.getMessage());
        // allow-without-tls: the cleartext password is checked against md5_user's md5 hash.
        try (Connection c = proxy.connect(MD5_USER, MD5_PW, "app_clear")) {
            assertEquals(CLEAR_USER, scalar(c, "SELECT current_user"));
        }
        refused("28P01", RefusalReason.AUTHENTICATION_FAILED, MD5_USER, "wrong", "app_clear");
    }

    @Test
    void anMd5RuleGivesScramToAUserWithAVerifierAsPostgresDoes() throws SQLException {
        try (Connection c = proxy.connect(MD5_USER, MD5_PW, "app_md5")) {
            assertEquals(MD5_USER, scalar(c, "SELECT current_user"));
        }
        try (Connection c = proxy.connect(SCRAM_USER, SCRAM_PW, "app_md5")) {
            assertEquals(MD5_USER, scalar(c, "SELECT current_user"));
        }
        refused("28P01", RefusalReason.AUTHENTICATION_FAILED, SCRAM_USER, "wrong", "app_md5");
    }

    @Test
    void aScramRuleFailsAUserWithOnlyAnMd5HashAsAWrongPassword() {
        SQLException md5 = refused("28P01", RefusalReason.AUTHENTICATION_FAILED, MD5_USER, MD5_PW, "app_trust");
        SQLException unknown = refused("28P01", RefusalReason.UNKNOWN_USER, "nobody_here", "x", "app_trust");
        assertEquals(md5.getMessage().replace(MD5_USER, "nobody_here"), unknown.getMessage());
    }

    @Test
    void trustStillNeedsTheRoleToExist() {
        SQLException e = refused("28000", RefusalReason.UNKNOWN_USER, "not_a_role", null, "app_trust");
        assertTrue(e.getMessage().contains("role \"not_a_role\" does not exist"), e.getMessage());
    }

    @Test
    void tlsOnlyRulesNeverLetAPlaintextClientIn() {
        // The hostssl rule does not cover plaintext, so trust_user has no rule for app.
        refused("28000", RefusalReason.NO_HBA_ENTRY, TRUST_USER, null, "app");
        SQLException plus = refused("28000", RefusalReason.TLS_REQUIRED, SCRAM_USER, SCRAM_PW, "app");
        assertTrue(plus.getMessage().contains("SCRAM-SHA-256-PLUS authentication requires SSL"), plus.getMessage());
    }

    @Test
    void theAdminConsoleGoesThroughTheSameRules() throws SQLException {
        Properties simple = new Properties();
        simple.setProperty("preferQueryMode", "simple");
        SQLException e = refused("28000", RefusalReason.HBA_REJECT, MD5_USER, MD5_PW, "pgbouncer", simple);
        assertTrue(e.getMessage().contains("database \"pgbouncer\""), e.getMessage());
        refused("28P01", RefusalReason.AUTHENTICATION_FAILED, SCRAM_USER, "wrong", "pgbouncer", simple);
        try (Connection c = ConsoleClient.admin(proxy)) {
            assertNotNull(ConsoleClient.show(c, "SHOW POOLS"), "an admin passing the console's rule runs commands");
        }
    }

    @Test
    void rulesReloadAndConnectedClientsKeepTheirSessions() throws SQLException {
        String allow = ProxyFixture.standardConfig(pg) + "pgproxy.hba = [ { user = trust_user, method = trust } ]\n";
        String reject = ProxyFixture.standardConfig(pg) + "pgproxy.hba = [ { user = trust_user, method = reject } ]\n";
        try (ProxyFixture p = ProxyFixture.start(allow); Connection connected = p.connect(TRUST_USER, null, "app_trust")) {
            p.reload(reject);
            SQLException e = assertThrows(SQLException.class, () -> p.connect(TRUST_USER, null, "app_trust").close());
            assertEquals("28000", e.getSQLState(), e.getMessage());
            assertEquals("1", scalar(connected, "SELECT 1"), "a client logged in before the reload is not touched");
            p.reload(allow);
            try (Connection again = p.connect(TRUST_USER, null, "app_trust")) {
                assertEquals(TRUST_USER, scalar(again, "SELECT current_user"));
            }
        }
    }

    @Test
    void aKnownUserHangingUpAtTheChallengeIsNoFailedLoginButAProbeIs() throws Exception {
        // psql without a password does this: it hangs up at the challenge, prompts, and comes back.
        java.util.Map<RefusalReason, Long> before = proxy.server().counters().refusals();
        hangUpAtTheChallenge(SCRAM_USER, "app_scram");
        assertEquals(before, proxy.server().counters().refusals());
        // A name pgproxy does not know, probed the same way (pg_isready), is counted as what it was.
        hangUpAtTheChallenge("nobody_here", "app_trust");
        assertEquals(before.get(RefusalReason.UNKNOWN_USER) + 1, proxy.server().counters().refusals().get(RefusalReason.UNKNOWN_USER));
    }

    private static void hangUpAtTheChallenge(String user, String database) throws Exception {
        try (PgWire w = PgWire.connect(proxy.port(), Duration.ofSeconds(10))) {
            w.write(PgWire.startupMessage(user, database));
            PgWire.Message sasl = w.readMessage();
            assertEquals('R', sasl.tag());
            assertEquals(10, sasl.buffer().getInt(), "AuthenticationSASL");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().clientCount() == 0);
    }
}
