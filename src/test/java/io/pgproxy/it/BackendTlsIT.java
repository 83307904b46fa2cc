package io.pgproxy.it;

import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.TestPki;
import io.pgproxy.fixtures.TlsPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static io.pgproxy.fixtures.TlsPostgres.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The proxy as a client of its backends, against a real PostgreSQL with TLS on ({@link TlsPostgres}):
 * every sslmode and both negotiations, verify-full's host name check, a client certificate, every
 * method the backend may ask for (SCRAM-SHA-256-PLUS whenever there is TLS), require-auth, and the
 * credentials a user brings: its own backend password, its md5 hash, its SCRAM passthrough keys.
 * The clients are pgjdbc through the proxy, without TLS on their side.
 */
@Timeout(60)
class BackendTlsIT {

    @TempDir
    static Path dir;
    static TlsPostgres pg;
    static ProxyFixture proxy;

    @BeforeAll
    static void start() {
        pg = TlsPostgres.start(dir.resolve("pki"));
        proxy = ProxyFixture.start(config(pg.rolpassword(SCRAM_USER)));
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
        if (pg != null) pg.close();
    }

    /** Databases named after what they test; {@code scramVerifier} is the proxy's for scram_user. */
    static String config(String scramVerifier) {
        String root = pg.pki().caFile().toString();
        String other = TestPki.create(dir.resolve("other"), "other-ca").caFile().toString();
        String cert = pg.clientCert().certificate().toString();
        String key = pg.clientCert().key().toString();
        return """
                pgproxy {
                  listen { host = "127.0.0.1", port = 0 }
                  users {
                    trust_user { auth = trust }
                    scram_user { password = "%s" }
                    md5_user { password = "%s" }
                    clear_user { auth = trust, backend-password = "clear_pw" }
                    ssl_only { auth = trust, backend-password = "not the password" }
                  }
                  databases {
                    m_scram { %s, user = scram_user, password = scram_pw, sslmode = require }
                    m_md5 { %s, user = md5_user, password = md5_pw, sslmode = require }
                    m_clear { %s, user = clear_user, password = clear_pw, sslmode = require }
                    m_trust { %s, user = trust_user, sslmode = require }
                    m_scram_plain { %s, user = scram_user, password = scram_pw, sslmode = disable }

                    r_md5_plain { %s, user = md5_user, password = md5_pw, sslmode = disable }
                    r_clear_plain { %s, user = clear_user, password = clear_pw, sslmode = disable }
                    r_clear_allowed { %s, user = clear_user, password = clear_pw, sslmode = disable, require-auth = password }
                    r_not_password { %s, user = clear_user, password = clear_pw, sslmode = require, require-auth = "!password" }
                    r_scram_only { %s, user = trust_user, sslmode = disable, require-auth = scram-sha-256 }

                    s_disable { %s, user = scram_user, password = scram_pw, sslmode = disable }
                    s_allow { %s, user = scram_user, password = scram_pw, sslmode = allow }
                    s_allow_ssl_only { %s, user = ssl_only, password = role_pw, sslmode = allow }
                    s_prefer { %s, user = scram_user, password = scram_pw, sslmode = prefer }
                    s_prefer_nossl_only { %s, user = nossl_only, password = role_pw }
                    s_require { %s, user = scram_user, password = scram_pw, sslmode = require }
                    s_verify_ca { %s, user = scram_user, password = scram_pw, sslmode = verify-ca, sslrootcert = "%s" }
                    s_verify_full { %s, user = scram_user, password = scram_pw, sslmode = verify-full, sslrootcert = "%s" }
                    s_direct { %s, user = scram_user, password = scram_pw, sslmode = require, sslnegotiation = direct }
                    s_direct_full { %s, user = scram_user, password = scram_pw, sslmode = verify-full, sslrootcert = "%s", sslnegotiation = direct }
                    s_verify_full_ip { %s, user = scram_user, password = scram_pw, sslmode = verify-full, sslrootcert = "%s" }
                    s_other_ca { %s, user = scram_user, password = scram_pw, sslmode = verify-ca, sslrootcert = "%s" }

                    c_cert { %s, user = cert_user, sslmode = verify-full, sslrootcert = "%s", sslcert = "%s", sslkey = "%s" }
                    c_no_cert { %s, user = cert_user, sslmode = require }

                    p_scram { %s }
                    p_scram_plain { %s, sslmode = disable }
                    p_md5 { %s, sslmode = disable, require-auth = md5 }
                    p_clear { %s, sslmode = require }
                    p_database_first { %s, user = ssl_only, password = role_pw, sslmode = require }
                  }
                }
                """.formatted(scramVerifier, pg.rolpassword(MD5_USER),
                backend(), backend(), backend(), backend(), backend(),
                backend(), backend(), backend(), backend(), backend(),
                backend(), backend(), backend(), backend(), backend(), backend(),
                backend(), root, named(), root, backend(), named(), root, backend(), root, backend(), other,
                named(), root, cert, key, backend(),
                backend(), backend(), backend(), backend(), backend());
    }

    private static String backend() {
        return "host = \"" + pg.host() + "\", port = " + pg.port() + ", dbname = postgres";
    }

    /** The backend by the name its certificate carries. */
    private static String named() {
        return "host = \"" + CERT_HOST + "\", port = " + pg.port() + ", dbname = postgres";
    }

    /** current_user and whether the backend connection runs over TLS. */
    private static String whoAndTls(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            assertTrue(rs.next());
            return rs.getString(1);
        }
    }

    private static SQLException refused(String user, String password, String database) {
        return assertThrows(SQLException.class, () -> {
            try (Connection c = proxy.connect(user, password, database)) {
                whoAndTls(c);
            }
        });
    }

    // ------------------------------------------------------------------ methods

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource({
            "m_scram,       scram_user true",   // SCRAM-SHA-256-PLUS: PostgreSQL checks the channel binding
            "m_md5,         md5_user true",
            "m_clear,       clear_user true",
            "m_trust,       trust_user true",
            "m_scram_plain, scram_user false"}) // SCRAM-SHA-256 without TLS
    void everyMethodTheBackendAsksFor(String database, String expected) throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, database)) {
            assertEquals(expected, whoAndTls(c));
        }
    }

    // ------------------------------------------------------------------ require-auth

    @ParameterizedTest(name = "{0}")
    @CsvSource({"r_md5_plain, an md5 password", "r_clear_plain, a cleartext password"})
    void withoutTlsCleartextAndMd5AreRefusedByDefault(String database, String asked) {
        SQLException e = refused(TRUST_USER, null, database);
        assertEquals("08001", e.getSQLState(), e.getMessage());
        assertTrue(e.getMessage().contains("authentication method requirement") && e.getMessage().contains(asked),
                e.getMessage());
    }

    @Test
    void requireAuthCanAllowCleartextWithoutTls() throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, "r_clear_allowed")) {
            assertEquals("clear_user false", whoAndTls(c));
        }
    }

    @Test
    void requireAuthNegationRefusesEvenOverTls() {
        SQLException e = refused(TRUST_USER, null, "r_not_password");
        assertEquals("08001", e.getSQLState(), e.getMessage());
        assertTrue(e.getMessage().contains("server requested a cleartext password"), e.getMessage());
    }

    @Test
    void requireAuthWithoutNoneRefusesATrustBackend() {
        SQLException e = refused(TRUST_USER, null, "r_scram_only");
        assertEquals("08001", e.getSQLState(), e.getMessage());
        assertTrue(e.getMessage().contains("did not complete authentication"), e.getMessage());
    }

    // ------------------------------------------------------------------ sslmode

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource({
            "s_disable,           scram_user false",
            "s_allow,             scram_user false",
            "s_allow_ssl_only,    ssl_only true",     // refused without TLS (hostssl only): tried again with it
            "s_prefer,            scram_user true",
            "s_prefer_nossl_only, nossl_only false",  // refused over TLS (hostnossl only): tried again without
            "s_require,           scram_user true",
            "s_verify_ca,         scram_user true",   // 127.0.0.1 is not in the certificate: verify-ca does not care
            "s_verify_full,       scram_user true",
            "s_direct,            scram_user true",
            "s_direct_full,       scram_user true"})
    void everySslMode(String database, String expected) throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, database)) {
            assertEquals(expected, whoAndTls(c));
            // What SHOW SERVERS prints in its tls column, as PgBouncer does.
            String tls = proxy.pool(database).connections().iterator().next().tls();
            assertEquals(expected.endsWith("true"), tls.startsWith("TLSv1.3/"), tls);
        }
    }

    @Test
    void verifyFullRefusesACertificateForAnotherHost() {
        SQLException e = refused(TRUST_USER, null, "s_verify_full_ip");
        assertEquals("08001", e.getSQLState(), e.getMessage());
        assertTrue(e.getMessage().contains("TLS with backend 127.0.0.1") && e.getMessage().contains("127.0.0.1 found"),
                e.getMessage());
    }

    @Test
    void verifyCaRefusesACertificateFromAnotherCa() {
        SQLException e = refused(TRUST_USER, null, "s_other_ca");
        assertEquals("08001", e.getSQLState(), e.getMessage());
        assertTrue(e.getMessage().contains("verify-ca"), e.getMessage());
    }

    // ------------------------------------------------------------------ client certificate

    @Test
    void clientCertificateLogsInWherePgHbaSaysCert() throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, "c_cert")) {
            assertEquals(CERT_USER + " true", whoAndTls(c));
        }
        SQLException e = refused(TRUST_USER, null, "c_no_cert");
        assertEquals("28000", e.getSQLState(), e.getMessage());
    }

    // ------------------------------------------------------------------ users' own credentials

    @ParameterizedTest(name = "{0}")
    @CsvSource({"p_scram, true", "p_scram_plain, false"})
    void scramPassthroughWithOnlyTheVerifier(String database, boolean tls) throws SQLException {
        // No password for scram_user anywhere in the proxy's configuration: the keys come from its login.
        try (Connection first = proxy.connect(SCRAM_USER, SCRAM_PW, database);
             Connection second = proxy.connect(SCRAM_USER, SCRAM_PW, database)) {
            // Two sessions at once: the pool's second backend connection logs in with the stored keys.
            assertEquals(SCRAM_USER + " " + tls, whoAndTls(first));
            assertEquals(SCRAM_USER + " " + tls, whoAndTls(second));
        }
    }

    @Test
    void scramPassthroughNeedsTheBackendsOwnVerifier() throws SQLException {
        // The same password with another salt: the client's login works, the backend's cannot.
        String otherSalt = ScramVerifier.fromPassword(SCRAM_PW, 4096).encode();
        try (ProxyFixture other = ProxyFixture.start(config(otherSalt))) {
            SQLException e = assertThrows(SQLException.class, () -> {
                try (Connection c = other.connect(SCRAM_USER, SCRAM_PW, "p_scram_plain")) {
                    whoAndTls(c);
                }
            });
            assertEquals("28000", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("SCRAM passthrough impossible"), e.getMessage());
        }
    }

    @Test
    void md5HashPassthrough() throws SQLException {
        try (Connection c = proxy.connect(MD5_USER, MD5_PW, "p_md5")) {
            assertEquals(MD5_USER + " false", whoAndTls(c));
        }
    }

    @Test
    void perUserBackendPassword() throws SQLException {
        try (Connection c = proxy.connect(CLEAR_USER, null, "p_clear")) {
            assertEquals(CLEAR_USER + " true", whoAndTls(c));
        }
    }

    @Test
    void theDatabasesPasswordComesBeforeTheUsersBackendPassword() throws SQLException {
        try (Connection c = proxy.connect(SSL_ONLY, null, "p_database_first")) {
            assertEquals(SSL_ONLY + " true", whoAndTls(c));
        }
    }

    // ------------------------------------------------------------------ cancel and reload

    @Test
    void cancelRequestReachesATlsOnlyBackend() throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, "s_require"); Statement st = c.createStatement()) {
            st.setQueryTimeout(1);
            SQLException e = assertThrows(SQLException.class, () -> st.execute("SELECT pg_sleep(30)"));
            assertEquals("57014", e.getSQLState(), e.getMessage());
        }
    }

    @Test
    void reloadReadsACertificateFileAgainAtTheSamePath() throws Exception {
        Path swapped = dir.resolve("swapped-ca.crt");
        Files.copy(TestPki.create(dir.resolve("stranger"), "stranger-ca").caFile(), swapped);
        String config = config(pg.rolpassword(SCRAM_USER)).replace("\n  databases {\n",
                "\n  databases {\n    s_swap { " + backend()
                        + ", user = scram_user, password = scram_pw, sslmode = verify-ca, sslrootcert = \"" + swapped + "\" }\n");
        proxy.reload(config);
        assertEquals("08001", refused(TRUST_USER, null, "s_swap").getSQLState());
        // The operator puts the right CA in place and reloads the unchanged configuration.
        Files.copy(pg.pki().caFile(), swapped, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        proxy.reload(config);
        try (Connection c = proxy.connect(TRUST_USER, null, "s_swap")) {
            assertEquals("scram_user true", whoAndTls(c));
        }
    }

    @Test
    void reloadWithAnUnusableCertificateFileKeepsTheOldMaterial() throws Exception {
        Path broken = dir.resolve("broken-ca.crt");
        Files.writeString(broken, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
        String current = config(pg.rolpassword(SCRAM_USER));
        try (Connection before = proxy.connect(TRUST_USER, null, "s_verify_full")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                    proxy.reload(current.replace(pg.pki().caFile().toString(), broken.toString())));
            assertTrue(e.getMessage().contains(broken.toString()), e.getMessage());
            assertEquals("scram_user true", whoAndTls(before));
            try (Connection after = proxy.connect(TRUST_USER, null, "s_verify_full")) {
                assertEquals("scram_user true", whoAndTls(after));
            }
        }
    }

    /**
     * The auth query's connection is made as a pool's: over TLS where the database's sslmode
     * says so, with its require-auth. The query hands back a password hash only when its own
     * connection is TLS, so a login with it proves the lookup went over TLS; the auth user
     * (ssl_only) has only a hostssl line, so with sslmode = disable the lookup cannot log in.
     */
    @Test
    void theAuthQueryConnectsAsThePoolsDoWithTheDatabasesSslmode() throws Exception {
        String hash = io.pgproxy.auth.Md5Password.hash("looked_up", "its_pw");
        String config = """
                pgproxy {
                  listen { host = "127.0.0.1", port = 0 }
                  auth-query {
                    auth-user = %s
                    auth-password = %s
                    query = "SELECT $1::text, CASE WHEN ssl THEN '%s' END FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                  }
                  databases {
                    q_tls { %s, user = trust_user, sslmode = require }
                    q_plain { %s, user = trust_user, sslmode = disable }
                  }
                }
                """.formatted(SSL_ONLY, ROLE_PW, hash, backend(), backend());
        try (ProxyFixture p = ProxyFixture.start(config)) {
            // First: a failed lookup is not cached, a found one is (for the same server and dbname).
            SQLException plain = assertThrows(SQLException.class, () -> p.connect("looked_up", "its_pw", "q_plain").close());
            assertEquals("08001", plain.getSQLState(), plain.getMessage());
            try (Connection c = p.connect("looked_up", "its_pw", "q_tls")) {
                assertEquals("trust_user true", whoAndTls(c));
            }
        }
    }
}
