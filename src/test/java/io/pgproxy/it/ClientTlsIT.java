package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.fixtures.TestPki;
import io.pgproxy.fixtures.TestPki.KeyFormat;
import io.pgproxy.admin.AdminConsole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import static io.pgproxy.fixtures.PostgresFixture.SCRAM_PW;
import static io.pgproxy.fixtures.PostgresFixture.SCRAM_USER;
import static io.pgproxy.fixtures.PostgresFixture.TRUST_USER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * TLS between clients and pgproxy with real clients (pgjdbc, psql, a JDK SSLSocket for direct
 * TLS): every client-tls mode, client certificates good and bad, per-database modes, the tls
 * column of SHOW CLIENTS, and certificate reload under traffic. The CA and every certificate
 * are made at test time.
 */
@Timeout(120)
@ExtendWith(SharedPostgres.class)
class ClientTlsIT {
    @TempDir
    static Path dir;
    static PostgresFixture pg;
    static TestPki pki;
    static TestPki otherPki;
    static TestPki.Issued server;
    static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) throws Exception {
        pg = database;
        pki = TestPki.create(dir.resolve("pki"), "pgproxy-it-ca");
        otherPki = TestPki.create(dir.resolve("other"), "unrelated-ca");
        server = pki.server("server", KeyFormat.TRADITIONAL, null, "localhost", "127.0.0.1");
        proxy = ProxyFixture.start(config("prefer", server, ""), s -> new AdminConsole(s, () -> null, () -> { }));
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
    }

    static String config(String mode, TestPki.Issued cert, String extra) {
        return ProxyFixture.standardConfig(pg) + """
                pgproxy.admin-users = [scram_user]
                pgproxy.client-tls {
                  mode = %s
                  cert-file = "%s"
                  key-file = "%s"
                  ca-file = "%s"
                }
                pgproxy.databases.app_tls { host = "%s", port = %d, dbname = "%s", user = "trust_user", client-tls-mode = require }
                pgproxy.databases.app_cert { host = "%s", port = %d, dbname = "%s", user = "trust_user", client-tls-mode = verify-full }
                %s
                """.formatted(mode, cert.certificate(), cert.key(), pki.caFile(), pg.host(), pg.port(), pg.db(),
                pg.host(), pg.port(), pg.db(), extra);
    }

    static Connection tls(ProxyFixture p, String host, String user, String password, String db, String sslmode,
                          Properties extra) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        if (password != null) props.setProperty("password", password);
        props.setProperty("sslmode", sslmode);
        props.setProperty("sslrootcert", pki.caFile().toString());
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", "60");
        if (extra != null) props.putAll(extra);
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + p.port() + "/" + db, props);
    }

    /** pgjdbc reads a client key as PKCS#8 DER. */
    static Properties clientCert(TestPki.Issued cert) throws IOException {
        Path der = cert.key().resolveSibling(cert.key().getFileName() + ".pk8");
        Files.write(der, cert.privateKey().getEncoded());
        Files.setPosixFilePermissions(der, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Properties p = new Properties();
        p.setProperty("sslcert", cert.certificate().toString());
        p.setProperty("sslkey", der.toString());
        return p;
    }

    static String scalar(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertTrue(rs.next());
            return rs.getString(1);
        }
    }

    @Test
    void pgjdbcWithVerifyFullGetsTlsAndShowClientsNamesTheVersionAndCipher() throws Exception {
        try (Connection c = tls(proxy, "localhost", SCRAM_USER, SCRAM_PW, "app_scram", "verify-full", null);
             Connection admin = tls(proxy, "localhost", SCRAM_USER, SCRAM_PW, "pgbouncer", "require",
                     props("preferQueryMode", "simple"))) {
            assertEquals("1", scalar(c, "SELECT 1"));
            List<Map<String, String>> clients = ConsoleClient.show(admin, "SHOW CLIENTS");
            Map<String, String> row = clients.stream().filter(r -> r.get("database").equals("app_scram"))
                    .findFirst().orElseThrow();
            assertTrue(row.get("tls").matches("TLSv1\\.[23]/TLS_\\w+"), row.get("tls"));
            assertEquals("prefer", ConsoleClient.rowFor(admin, "SHOW CONFIG", "key", "pgproxy.client-tls.mode").get("value"));
        }
        try (Connection plain = proxy.connect(SCRAM_USER, SCRAM_PW, "app_scram");
             Connection admin = tls(proxy, "localhost", SCRAM_USER, SCRAM_PW, "pgbouncer", "require",
                     props("preferQueryMode", "simple"))) {
            assertEquals("1", scalar(plain, "SELECT 1"));
            assertTrue(ConsoleClient.show(admin, "SHOW CLIENTS").stream()
                    .anyMatch(r -> r.get("database").equals("app_scram") && r.get("tls").isEmpty()));
        }
    }

    /** A closed TLS connection leaves nothing behind: no descriptor waits for a collection. */
    @Test
    void closedTlsConnectionsReleaseTheirDescriptors() throws Exception {
        try (ProxyFixture p = ProxyFixture.start(config("prefer", server, ""))) {
            long before = openFileDescriptors();
            for (int i = 0; i < 30; i++) {
                try (Connection c = tls(p, "localhost", TRUST_USER, null, "app_trust", "require", null)) {
                    assertEquals("1", scalar(c, "SELECT 1"));
                }
            }
            org.awaitility.Awaitility.await("descriptors of closed TLS connections released")
                    .atMost(java.time.Duration.ofSeconds(20))
                    .until(() -> openFileDescriptors() <= before + 5);
        }
    }

    private static long openFileDescriptors() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void verifyFullFailsOnAHostNameTheCertificateDoesNotName() throws Exception {
        TestPki.Issued onlyLocalhost = pki.server("only-localhost", KeyFormat.PKCS8, null, "localhost");
        try (ProxyFixture p = ProxyFixture.start(config("prefer", onlyLocalhost, ""))) {
            try (Connection c = tls(p, "localhost", TRUST_USER, null, "app_trust", "verify-full", null)) {
                assertEquals("1", scalar(c, "SELECT 1"));
            }
            SQLException e = assertThrows(SQLException.class,
                    () -> tls(p, "127.0.0.1", TRUST_USER, null, "app_trust", "verify-full", null).close());
            assertTrue(e.getMessage().contains("127.0.0.1"), e.getMessage());
        }
    }

    @Test
    void psqlWithVerifyFullConnectsOverTls() throws Exception {
        assumeTrue(Files.isExecutable(ConsoleClient.PSQL), "psql is not installed");
        Map<String, String> env = new java.util.HashMap<>(ClientToolsIT.libpqEnv(proxy.port(), SCRAM_USER, SCRAM_PW, "app_scram"));
        env.put("PGHOST", "localhost");
        env.put("PGSSLMODE", "verify-full");
        env.put("PGSSLROOTCERT", pki.caFile().toString());
        ClientToolsIT.Result r = ClientToolsIT.run(env, List.of(ConsoleClient.PSQL.toString(), "-X", "-c", "\\conninfo",
                "-c", "SELECT 41 + 1"), dir);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("SSL connection (protocol: TLSv1."), r.output());
        assertTrue(r.output().contains("42"), r.output());
    }

    @Test
    void aPlaintextClientIsRefusedWhereTheListenerOrTheDatabaseRequiresTls() throws Exception {
        SQLException db = assertThrows(SQLException.class, () -> proxy.connect(TRUST_USER, null, "app_tls").close());
        assertEquals("28000", db.getSQLState(), db.getMessage());
        assertTrue(db.getMessage().contains("SSL required"), db.getMessage());
        try (Connection c = tls(proxy, "localhost", TRUST_USER, null, "app_tls", "require", null)) {
            assertEquals("1", scalar(c, "SELECT 1"));
        }
        try (ProxyFixture p = ProxyFixture.start(config("require", server, ""))) {
            SQLException all = assertThrows(SQLException.class, () -> p.connect(TRUST_USER, null, "app_trust").close());
            assertEquals("28000", all.getSQLState());
            try (Connection c = tls(p, "localhost", TRUST_USER, null, "app_trust", "require", null)) {
                assertEquals("1", scalar(c, "SELECT 1"));
            }
        }
    }

    @Test
    void verifyFullNeedsAValidClientCertificateWhoseCnIsTheUser() throws Exception {
        try (Connection c = tls(proxy, "localhost", TRUST_USER, null, "app_cert", "verify-full",
                clientCert(pki.client("trust-user", TRUST_USER)))) {
            assertEquals("1", scalar(c, "SELECT 1"));
        }
        SQLException none = assertThrows(SQLException.class,
                () -> tls(proxy, "localhost", TRUST_USER, null, "app_cert", "verify-full", null).close());
        assertEquals("28000", none.getSQLState(), none.getMessage());
        SQLException expired = assertThrows(SQLException.class, () -> tls(proxy, "localhost", TRUST_USER, null,
                "app_cert", "verify-full", clientCert(pki.expiredClient("expired", TRUST_USER))).close());
        assertEquals("28000", expired.getSQLState(), expired.getMessage());
        assertTrue(expired.getMessage().contains("not valid"), expired.getMessage());
        SQLException stranger = assertThrows(SQLException.class, () -> tls(proxy, "localhost", TRUST_USER, null,
                "app_cert", "verify-full", clientCert(otherPki.client("stranger", TRUST_USER))).close());
        assertEquals("28000", stranger.getSQLState(), stranger.getMessage());
        SQLException wrongCn = assertThrows(SQLException.class, () -> tls(proxy, "localhost", TRUST_USER, null,
                "app_cert", "verify-full", clientCert(pki.client("someone-else", "someone_else"))).close());
        assertEquals("28000", wrongCn.getSQLState(), wrongCn.getMessage());
        assertTrue(wrongCn.getMessage().contains("CN mismatch"), wrongCn.getMessage());
        try (Connection c = proxy.connect(TRUST_USER, null, "app_trust")) {
            assertEquals("1", scalar(c, "SELECT 1"), "other clients are untouched");
        }
    }

    @Test
    void directTlsWithAlpnPostgresqlIsAcceptedOnTheSamePortAndWithoutAlpnRefused() throws Exception {
        try (SSLSocket s = directTls(proxy.port(), true)) {
            sendStartup(s.getOutputStream(), TRUST_USER, "app_trust");
            DataInputStream in = new DataInputStream(s.getInputStream());
            assertEquals('R', in.readByte());
            assertEquals(8, in.readInt());
            assertEquals(0, in.readInt(), "AuthenticationOk");
            assertEquals("postgresql", s.getApplicationProtocol());
        }
        try (SSLSocket s = directTls(proxy.port(), false)) {
            sendStartup(s.getOutputStream(), TRUST_USER, "app_trust");
            assertEquals(-1, s.getInputStream().read(), "closed without ALPN");
        } catch (IOException closedDuringHandshake) {
            // Also a refusal: the server closed before the client finished reading.
        }
    }

    @Test
    void psqlWithSslnegotiationDirect() throws Exception {
        assumeTrue(psqlSupportsDirectTls(), "the installed psql (libpq < 17) has no sslnegotiation=direct");
        Map<String, String> env = new java.util.HashMap<>(ClientToolsIT.libpqEnv(proxy.port(), TRUST_USER, null, "app_trust"));
        env.put("PGHOST", "localhost");
        env.put("PGSSLMODE", "verify-full");
        env.put("PGSSLROOTCERT", pki.caFile().toString());
        env.put("PGSSLNEGOTIATION", "direct");
        ClientToolsIT.Result r = ClientToolsIT.run(env, List.of(ConsoleClient.PSQL.toString(), "-X", "-c", "\\conninfo"), dir);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("SSL connection"), r.output());
    }

    /** CVE-2021-3935: what arrives behind the SSLRequest, before the answer, is refused (never 'S'), not fed to a login or the handshake. */
    @Test
    void bytesSentBehindTheSslRequestAreNeverReadAsPlaintext() throws IOException {
        try (io.pgproxy.fixtures.PgWire w = io.pgproxy.fixtures.PgWire.connect(proxy.port(), java.time.Duration.ofSeconds(10))) {
            w.write(io.pgproxy.fixtures.PgWire.sslRequest(), io.pgproxy.fixtures.PgWire.startupMessage(TRUST_USER, "app_trust"));
            HostileInputIT.assertPiggybackRefused(w);
        }
    }

    @Test
    void anEncryptedKeyIsReadWithThePassphraseFromTheEnvironment() throws Exception {
        char[] passphrase = System.getenv("PGPROXY_IT_KEY_PASSPHRASE").toCharArray();
        TestPki.Issued encrypted = pki.server("encrypted", KeyFormat.PKCS8_ENCRYPTED, passphrase, "localhost");
        try (ProxyFixture p = ProxyFixture.start(config("prefer", encrypted,
                "pgproxy.client-tls.key-passphrase-env = PGPROXY_IT_KEY_PASSPHRASE\n"));
             Connection c = tls(p, "localhost", TRUST_USER, null, "app_trust", "verify-full", null)) {
            assertEquals("1", scalar(c, "SELECT 1"));
        }
        java.io.UncheckedIOException e = assertThrows(java.io.UncheckedIOException.class,
                () -> ProxyFixture.start(config("prefer", encrypted, "")).close());
        assertTrue(String.valueOf(e.getCause()).contains(encrypted.key().toString()), String.valueOf(e.getCause()));
    }

    @Test
    void reloadServesARenewedCertificateRefusesABrokenOneAndDropsNoClient() throws Exception {
        Path cert = dir.resolve("reload.crt");
        Path key = dir.resolve("reload.key");
        TestPki.Issued first = pki.server("first", KeyFormat.PKCS8, null, "localhost");
        Files.copy(first.certificate(), cert);
        Files.copy(first.key(), key);
        TestPki.Issued files = new TestPki.Issued(cert, key, first.x509(), first.privateKey());
        try (ProxyFixture p = ProxyFixture.start(config("prefer", files, ""))) {
            assertEquals(first.x509().getSerialNumber(), presented(p.port()).getSerialNumber());
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<Integer>> workers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                workers.add(pool.submit(() -> {
                    int n = 0;
                    try (Connection c = tls(p, "localhost", TRUST_USER, null, "app_trust", "verify-full", null)) {
                        while (!stop.get() || n < 20) {
                            assertEquals("1", scalar(c, "SELECT 1"));
                            n++;
                        }
                    }
                    return n;
                }));
            }
            TestPki.Issued renewed = pki.server("renewed", KeyFormat.PKCS8, null, "localhost");
            Files.copy(renewed.certificate(), cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(renewed.key(), key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            p.reload(config("prefer", files, ""));
            assertEquals(renewed.x509().getSerialNumber(), presented(p.port()).getSerialNumber());

            Files.writeString(key, "not a key\n");
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> p.reload(config("prefer", files, "")));
            assertTrue(refused.getMessage().contains(key.toString()), refused.getMessage());
            assertEquals(renewed.x509().getSerialNumber(), presented(p.port()).getSerialNumber(),
                    "the material in force keeps serving");
            stop.set(true);
            for (Future<Integer> w : workers) {
                assertTrue(w.get() >= 20);
            }
            pool.shutdown();
        }
    }

    private static Properties props(String k, String v) {
        Properties p = new Properties();
        p.setProperty(k, v);
        return p;
    }

    /** The certificate the proxy presents after an SSLRequest. */
    private static X509Certificate presented(int port) throws Exception {
        try (Socket raw = new Socket("127.0.0.1", port)) {
            raw.getOutputStream().write(ByteBuffer.allocate(8).putInt(8).putInt(80877103).array());
            assertEquals('S', raw.getInputStream().read());
            try (SSLSocket s = (SSLSocket) trusting().getSocketFactory().createSocket(raw, "localhost", port, true)) {
                s.startHandshake();
                return (X509Certificate) s.getSession().getPeerCertificates()[0];
            }
        }
    }

    private static SSLSocket directTls(int port, boolean alpn) throws Exception {
        SSLSocket s = (SSLSocket) trusting().getSocketFactory().createSocket("localhost", port);
        SSLParameters p = s.getSSLParameters();
        if (alpn) {
            p.setApplicationProtocols(new String[] {"postgresql"});
        }
        s.setSSLParameters(p);
        s.setSoTimeout(10_000);
        s.startHandshake();
        return s;
    }

    private static SSLContext trusting() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", pki.ca());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static void sendStartup(OutputStream out, String user, String db) throws IOException {
        byte[] params = ("user\0" + user + "\0database\0" + db + "\0\0").getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + params.length);
        b.putInt(8 + params.length).putInt(196608).put(params);
        out.write(b.array());
        out.flush();
    }

    private static boolean psqlSupportsDirectTls() throws Exception {
        if (!Files.isExecutable(ConsoleClient.PSQL)) {
            return false;
        }
        ClientToolsIT.Result v = ClientToolsIT.run(Map.of(), List.of(ConsoleClient.PSQL.toString(), "--version"), dir);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)\\.").matcher(v.output());
        return m.find() && Integer.parseInt(m.group(1)) >= 17;
    }
}
