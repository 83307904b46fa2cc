package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Authentication on both sides of the proxy. Client side: the proxy checks clients itself against its own
 * user list (SCRAM verifier and md5 hash copied from pg_authid, trust). Backend side: the proxy logs in to
 * PostgreSQL with SCRAM, md5, cleartext or trust, as pg_hba asks for each role.
 */
@Timeout(60)
@ExtendWith(SharedPostgres.class)
class AuthIT {

    static PostgresFixture pg;
    static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) {
        pg = database;
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg));
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
    }

    /** current_user and current_database() seen through the proxy. */
    private static String whoAmI(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user || '@' || current_database()")) {
            assertTrue(rs.next());
            return rs.getString(1);
        }
    }

    // ------------------------------------------------------------------ client side

    @Test
    void clientScramAgainstTheProxysVerifier() throws SQLException {
        // app_trust: the backend side is trust, so only the client-side SCRAM exchange is under test.
        try (Connection c = proxy.connect(SCRAM_USER, SCRAM_PW, "app_trust")) {
            assertEquals(TRUST_USER + "@" + pg.db(), whoAmI(c));
        }
    }

    @Test
    void clientMd5AgainstTheProxysHash() throws SQLException {
        try (Connection c = proxy.connect(MD5_USER, MD5_PW, "app_trust")) {
            assertEquals(TRUST_USER + "@" + pg.db(), whoAmI(c));
        }
    }

    @Test
    void clientTrust() throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, "app_trust")) {
            assertEquals(TRUST_USER + "@" + pg.db(), whoAmI(c));
        }
    }

    @ParameterizedTest
    @CsvSource({"scram_user, scram_pw-wrong", "md5_user, md5_pw-wrong", "scram_user, Scram_pw", "md5_user, 'md5_pw '"})
    void wrongPasswordIs28P01(String user, String password) {
        SQLException e = assertThrows(SQLException.class, () -> proxy.connect(user, password, "app_trust").close());
        assertEquals("28P01", e.getSQLState(), e.getMessage());
        // Same answer as PostgreSQL gives directly.
        SQLException direct = assertThrows(SQLException.class, () -> pg.direct(user, password, pg.db()).close());
        assertEquals(direct.getSQLState(), e.getSQLState());
    }

    @Test
    void anUnknownUserCannotBeToldFromAWrongPassword() {
        // As PostgreSQL: a SCRAM challenge like any user's, then 28P01 at the proof, word for word
        // what a known user with a wrong password gets.
        SQLException unknown = assertThrows(SQLException.class, () -> proxy.connect("nobody_here", "whatever", "app_trust").close());
        SQLException wrong = assertThrows(SQLException.class, () -> proxy.connect(SCRAM_USER, "whatever", "app_trust").close());
        assertEquals("28P01", unknown.getSQLState(), unknown.getMessage());
        assertEquals(wrong.getMessage().replace(SCRAM_USER, "nobody_here"), unknown.getMessage());
    }

    @Test
    void anUnknownDatabaseIsToldOnlyAfterAuthentication() {
        SQLException e = assertThrows(SQLException.class, () -> proxy.connect(TRUST_USER, null, "no_such_db").close());
        assertEquals("3D000", e.getSQLState(), e.getMessage());
        SQLException wrong = assertThrows(SQLException.class, () -> proxy.connect(SCRAM_USER, "wrong", "no_such_db").close());
        assertEquals("28P01", wrong.getSQLState(), "a wrong password learns nothing of the database: " + wrong.getMessage());
    }

    @Test
    void aFailedLoginDoesNotAffectTheNextOne() throws SQLException {
        assertThrows(SQLException.class, () -> proxy.connect(SCRAM_USER, "wrong", "app_trust").close());
        try (Connection c = proxy.connect(SCRAM_USER, SCRAM_PW, "app_trust")) {
            assertEquals(TRUST_USER + "@" + pg.db(), whoAmI(c));
        }
    }

    // ------------------------------------------------------------------ backend side

    @ParameterizedTest(name = "backend {1} via database {0}")
    @CsvSource({
            "app_scram, scram_user",  // PostgreSQL asks SCRAM-SHA-256
            "app_md5,   md5_user",    // md5
            "app_clear, clear_user",  // cleartext password
            "app_trust, trust_user"}) // trust
    void backendAuthenticationMethods(String database, String backendUser) throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, database)) {
            assertEquals(backendUser + "@" + pg.db(), whoAmI(c));
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT sum(g) FROM generate_series(1, 100) g")) {
                assertTrue(rs.next());
                assertEquals(5050, rs.getInt(1));
            }
        }
        // and the method PostgreSQL used is really the one pg_hba names for this role
        try (Connection su = pg.superuser(pg.db()); Statement st = su.createStatement();
             ResultSet rs = st.executeQuery("SELECT auth_method FROM pg_hba_file_rules WHERE '" + backendUser
                     + "' = ANY(user_name) AND address = '0.0.0.0'")) {
            assertTrue(rs.next());
            assertEquals(switch (backendUser) {
                case SCRAM_USER -> "scram-sha-256";
                case MD5_USER -> "md5";
                case CLEAR_USER -> "password";
                default -> "trust";
            }, rs.getString(1));
        }
    }

    @Test
    void clientAndBackendScramTogether() throws SQLException {
        try (Connection c = proxy.connect(SCRAM_USER, SCRAM_PW, "app_scram")) {
            assertEquals(SCRAM_USER + "@" + pg.db(), whoAmI(c));
        }
    }

    @Test
    void clientMd5BackendMd5() throws SQLException {
        try (Connection c = proxy.connect(MD5_USER, MD5_PW, "app_md5")) {
            assertEquals(MD5_USER + "@" + pg.db(), whoAmI(c));
        }
    }

    /** Database {@code app} has no backend user: the backend user is the client's user name. */
    @Test
    void backendUserIsTheClientsUserWhenTheDatabaseNamesNone() throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, "app")) {
            assertEquals(TRUST_USER + "@" + pg.db(), whoAmI(c));
        }
    }
}
