package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.fixtures.TestPki;
import io.pgproxy.fixtures.TestPki.KeyFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static io.pgproxy.fixtures.PostgresFixture.MD5_PW;
import static io.pgproxy.fixtures.PostgresFixture.MD5_USER;
import static io.pgproxy.fixtures.PostgresFixture.SCRAM_PW;
import static io.pgproxy.fixtures.PostgresFixture.SCRAM_USER;
import static io.pgproxy.fixtures.PostgresFixture.TRUST_USER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The hba methods that need TLS, end to end with real clients over pgproxy's client TLS:
 * SCRAM-SHA-256-PLUS (pgjdbc channelBinding=require, psql channel_binding=require), cert (the
 * certificate's CN as the user), hostssl/hostnossl, and cleartext password over TLS.
 */
@Timeout(120)
@ExtendWith(SharedPostgres.class)
class TlsAuthIT {
    @TempDir
    static Path dir;
    static PostgresFixture pg;
    static TestPki pki;
    static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) {
        pg = database;
        pki = TestPki.create(dir, "tls-auth-ca");
        TestPki.Issued server = pki.server("server", KeyFormat.PKCS8, null, "localhost", "127.0.0.1");
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + """
                pgproxy.client-tls { mode = prefer, cert-file = "%s", key-file = "%s", ca-file = "%s" }
                pgproxy.hba = [
                  { type = hostssl, database = app_trust, method = cert }
                  { type = hostssl, user = md5_user, method = password }
                  { type = hostssl, method = scram-sha-256-plus }
                  { type = hostnossl, user = scram_user, method = scram-sha-256 }
                  { type = hostnossl, method = reject }
                ]
                """.formatted(server.certificate(), server.key(), pki.caFile()));
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
    }

    static Connection connect(String user, String password, String db, String sslmode, Properties extra)
            throws SQLException {
        Properties p = new Properties();
        p.setProperty("sslmode", sslmode);
        p.setProperty("sslrootcert", pki.caFile().toString());
        if (extra != null) p.putAll(extra);
        return proxy.connect(user, password, db, p);
    }

    static Properties props(String... kv) {
        Properties p = new Properties();
        for (int i = 0; i < kv.length; i += 2) p.setProperty(kv[i], kv[i + 1]);
        return p;
    }

    @Test
    void scramPlusBindsToPgproxysOwnCertificate() throws Exception {
        try (Connection c = connect(SCRAM_USER, SCRAM_PW, "app_scram", "require", props("channelBinding", "require"))) {
            assertEquals("1", ClientTlsIT.scalar(c, "SELECT 1"));
        }
        SQLException wrong = assertThrows(SQLException.class, () ->
                connect(SCRAM_USER, "not-the-password", "app_scram", "require", props("channelBinding", "require")).close());
        assertEquals("28P01", wrong.getSQLState(), wrong.getMessage());
        // Offered only PLUS, a client that will not bind has no mechanism to choose.
        assertThrows(SQLException.class, () ->
                connect(SCRAM_USER, SCRAM_PW, "app_scram", "require", props("channelBinding", "disable")).close());
    }

    @Test
    void psqlWithChannelBindingRequire() throws Exception {
        assumeTrue(Files.isExecutable(ConsoleClient.PSQL), "psql is not installed");
        Map<String, String> env = new HashMap<>(ClientToolsIT.libpqEnv(proxy.port(), SCRAM_USER, SCRAM_PW, "app_scram"));
        env.put("PGSSLMODE", "require");
        env.put("PGCHANNELBINDING", "require");
        ClientToolsIT.Result r = ClientToolsIT.run(env, List.of(ConsoleClient.PSQL.toString(), "-X", "-tAc", "SELECT 7"), dir);
        assertEquals(0, r.exit(), r.output());
        assertEquals("7", r.output().strip());
    }

    @Test
    void hostsslAndHostnosslDecideByTheTransport() throws Exception {
        try (Connection c = proxy.connect(SCRAM_USER, SCRAM_PW, "app_scram")) {
            assertEquals("1", ClientTlsIT.scalar(c, "SELECT 1"), "plaintext: the hostnossl scram rule");
        }
        SQLException rejected = assertThrows(SQLException.class, () -> proxy.connect(MD5_USER, MD5_PW, "app_md5").close());
        assertEquals("28000", rejected.getSQLState(), rejected.getMessage());
        assertTrue(rejected.getMessage().contains("no encryption"), rejected.getMessage());
    }

    @Test
    void cleartextPasswordIsAcceptedOverTls() throws Exception {
        try (Connection c = connect(MD5_USER, MD5_PW, "app_md5", "require", null)) {
            assertEquals("1", ClientTlsIT.scalar(c, "SELECT 1"));
        }
        SQLException wrong = assertThrows(SQLException.class,
                () -> connect(MD5_USER, "nope", "app_md5", "require", null).close());
        assertEquals("28P01", wrong.getSQLState());
    }

    @Test
    void certLogsInTheUserTheCertificateNamesAndNoOneElse() throws Exception {
        try (Connection c = connect(TRUST_USER, null, "app_trust", "require",
                ClientTlsIT.clientCert(pki.client("trust-cert", TRUST_USER)))) {
            assertEquals("1", ClientTlsIT.scalar(c, "SELECT 1"));
        }
        SQLException other = assertThrows(SQLException.class, () -> connect(TRUST_USER, null, "app_trust", "require",
                ClientTlsIT.clientCert(pki.client("someone", "someone_else"))).close());
        assertEquals("28000", other.getSQLState(), other.getMessage());
        SQLException none = assertThrows(SQLException.class,
                () -> connect(TRUST_USER, null, "app_trust", "require", null).close());
        assertEquals("28000", none.getSQLState(), none.getMessage());
        SQLException expired = assertThrows(SQLException.class, () -> connect(TRUST_USER, null, "app_trust", "require",
                ClientTlsIT.clientCert(pki.expiredClient("expired", TRUST_USER))).close());
        assertEquals("28000", expired.getSQLState(), expired.getMessage());
    }
}
