package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The real launcher, {@code bin/pgproxy <config>}, as a child process: it starts and serves, SIGHUP applies
 * an edited config without dropping a connected client, a broken config is rejected with its key path in the
 * log while the old one keeps serving, and SIGTERM makes it exit in bounded time. Under nohup (SIGHUP
 * ignored) reloads still work, and each refusal is logged under its reason.
 */
@Timeout(180)
@ExtendWith(SharedPostgres.class)
class SignalsIT {

    static PostgresFixture pg;

    @TempDir
    Path dir;
    Process proxy;
    Path log;

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    @AfterEach
    void killIfStillRunning() throws InterruptedException, IOException {
        if (proxy != null && proxy.isAlive()) {
            proxy.destroyForcibly();
            proxy.waitFor(10, TimeUnit.SECONDS);
        }
        if (log != null && Files.exists(log)) System.out.println("---- bin/pgproxy output ----\n" + logText());
    }

    static Path launcher() {
        String home = System.getProperty("pgproxy.home");
        assertNotNull(home, "system property pgproxy.home (set by failsafe) is missing");
        Path bin = Path.of(home, "bin", "pgproxy");
        assertTrue(Files.isExecutable(bin), bin + " does not exist or is not executable");
        return bin;
    }

    /** A free port: bind an ephemeral port, close it, hand it to the child (it cannot report its port otherwise). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    static String config(int port, boolean withAddedDatabase) {
        String base = (ProxyFixture.standardConfig(pg) + "pgproxy.limits.shutdown-timeout = 20s\n").replace("listen { host = \"127.0.0.1\", port = 0 }",
                "listen { host = \"127.0.0.1\", port = " + port + " }");
        assertTrue(base.contains("port = " + port + " }"), "listen port not substituted");
        if (!withAddedDatabase) return base;
        return base + "pgproxy.databases.app_added { host = \"" + pg.host() + "\", port = " + pg.port()
                + ", dbname = \"" + pg.db() + "\", user = \"trust_user\" }\n";
    }

    static Connection connect(int port, String db) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", TRUST_USER);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "5");
        p.setProperty("socketTimeout", "30");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + db, p);
    }

    static String query(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertTrue(rs.next());
            return rs.getString(1);
        }
    }

    static boolean works(int port, String db) {
        try (Connection c = connect(port, db)) {
            return pg.db().equals(query(c, "SELECT current_database()"));
        } catch (SQLException e) {
            return false;
        }
    }

    void signal(String sig) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + sig, Long.toString(proxy.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue(), "kill -" + sig + " failed");
    }

    /** Starts {@code bin/pgproxy conf}, behind {@code wrapper} (a command such as nohup) if given, logging to {@link #log}. */
    void startLauncher(Path conf, String... wrapper) throws IOException {
        List<String> command = new ArrayList<>(List.of(wrapper));
        command.add(launcher().toString());
        command.add(conf.toString());
        log = dir.resolve("pgproxy.log");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home")); // the JDK running the tests (25)
        proxy = pb.start();
    }

    String logText() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    @Test
    void startReloadRejectBrokenConfigAndDrainOnSigterm() throws Exception {
        int port = freePort();
        Path conf = dir.resolve("pgproxy.conf");
        Files.writeString(conf, config(port, false));
        startLauncher(conf);

        // 1. it starts and serves
        await("bin/pgproxy serves on port " + port).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .failFast("bin/pgproxy exited", () -> !proxy.isAlive())
                .until(() -> works(port, "app_trust"));
        SQLException unknown = assertThrows(SQLException.class, () -> connect(port, "app_added").close());
        assertEquals("3D000", unknown.getSQLState());

        try (Connection steady = connect(port, "app_trust")) {
            String pidBefore = query(steady, "SELECT pg_backend_pid()");
            steady.setAutoCommit(false);
            query(steady, "SELECT txid_current()"); // a transaction open across the reload

            // 2. SIGHUP with a database added: it appears, the connected client goes on
            Files.writeString(conf, config(port, true));
            signal("HUP");
            await("app_added reachable after SIGHUP").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .failFast("bin/pgproxy exited", () -> !proxy.isAlive())
                    .until(() -> works(port, "app_added"));
            assertEquals(pidBefore, query(steady, "SELECT pg_backend_pid()"), "the connected client kept its backend");
            steady.commit();
            assertEquals("1", query(steady, "SELECT 1"));

            // 3. a broken config is rejected with its key path in the log; the old one keeps serving
            long logBefore = Files.size(log);
            Files.writeString(conf, config(port, true).replace("size = 20", "size = \"twenty\""));
            signal("HUP");
            await("the log reports the rejected key").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .failFast("bin/pgproxy exited", () -> !proxy.isAlive())
                    .until(() -> logText().substring((int) Math.min(logBefore, logText().length())).contains("pool.size"));
            String reported = logText().substring((int) logBefore);
            assertTrue(reported.contains("pgproxy.pool.size"), "full key path expected in:\n" + reported);
            assertTrue(proxy.isAlive());
            assertTrue(works(port, "app_added"), "the previous config still serves app_added");
            assertTrue(works(port, "app_trust"));
            assertEquals(pidBefore, query(steady, "SELECT pg_backend_pid()"));
            steady.commit();
        }

        // 4. SIGTERM drains: no new clients, a transaction in flight may finish, then the process exits
        try (Connection inFlight = connect(port, "app_trust")) {
            inFlight.setAutoCommit(false);
            query(inFlight, "SELECT txid_current()");
            signal("TERM");
            await("new clients are refused while draining").atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !works(port, "app_trust"));
            assertTrue(proxy.isAlive(), "exited with a transaction in flight (shutdown-timeout is 20 s)");
            assertEquals("2", query(inFlight, "SELECT 2"), "the transaction in flight goes on");
            inFlight.commit();
            // idle now: the proxy closes it (57P01) and exits without waiting for the shutdown-timeout
            assertTrue(proxy.waitFor(15, TimeUnit.SECONDS), "bin/pgproxy still running 15 s after SIGTERM; log:\n" + logText());
            SQLException closed = assertThrows(SQLException.class, () -> query(inFlight, "SELECT 3"));
            assertTrue(closed.getSQLState() == null || closed.getSQLState().startsWith("57P01") || closed.getSQLState().startsWith("08"),
                    closed.getSQLState() + " " + closed.getMessage());
        }
        assertFalse(accepts(port), "the port is closed after exit");
    }

    String logSince(int offset) throws IOException {
        String all = logText();
        return all.substring(Math.min(offset, all.length()));
    }

    void awaitLog(String what, int offset, String text) {
        await(what).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .failFast("bin/pgproxy exited", () -> !proxy.isAlive())
                .until(() -> logSince(offset).contains(text));
    }

    static SQLException refusal(int port, String user, String db) {
        return assertThrows(SQLException.class, () -> connect(port, db).close(), user + "@" + db);
    }

    @Test
    void underNohupSighupStillReloadsRefusalsAreNamedAndARefusedPortIsNotRecorded() throws Exception {
        // Traps of issue 11: SIGHUP ignored by the parent (nohup), refusals logged as protocol
        // violations, a max-clients refusal nobody hears of, a refused listen port recorded as in force.
        int port = freePort();
        Path conf = dir.resolve("pgproxy.conf");
        Files.writeString(conf, config(port, false));
        // nohup starts bin/pgproxy, and so the JVM it execs, with SIGHUP ignored.
        startLauncher(conf, "nohup");
        await("bin/pgproxy serves on port " + port).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .failFast("bin/pgproxy exited", () -> !proxy.isAlive())
                .until(() -> works(port, "app_trust"));
        // Logged as the signal handlers are installed, just after the listener has started.
        awaitLog("the warning about the inherited SIGHUP ignore", 0, "SIGHUP was ignored when pgproxy started");
        assertFalse(logText().contains("restricted method"), "the launcher enables native access for the signal reset");

        // Refusals are logged under what they are, not as protocol violations.
        int mark = logText().length();
        assertEquals("3D000", refusal(port, TRUST_USER, "no_such_db").getSQLState());
        awaitLog("unknown database logged", mark, "refused (unknown database)");
        Properties nobody = new Properties();
        nobody.setProperty("user", "nobody");
        nobody.setProperty("password", "guess");
        nobody.setProperty("sslmode", "disable");
        SQLException unknownUser = assertThrows(SQLException.class,
                () -> java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/app_trust", nobody).close());
        assertEquals("28P01", unknownUser.getSQLState(), "told as a wrong password, logged as what it was");
        awaitLog("unknown user logged", mark, "refused (unknown user)");
        Path pgIsReady = pgIsReady();
        if (pgIsReady != null) {
            // A monitoring probe: pg_isready asks for a database named after its user.
            Process probe = new ProcessBuilder(pgIsReady.toString(), "-h", "127.0.0.1", "-p", Integer.toString(port),
                    "-U", "probe_user").inheritIO().start();
            assertTrue(probe.waitFor(20, TimeUnit.SECONDS));
            // It hangs up at the SCRAM challenge every user gets.
            awaitLog("pg_isready logged as unknown user", mark, "refused (unknown user): password authentication failed for user \"probe_user\"");
        }
        assertFalse(logSince(mark).contains("protocol violation"), logSince(mark));

        // SIGHUP (ignored by nohup, handled all the same) applies a database; the port change is refused.
        mark = logText().length();
        int otherPort = freePort();
        Files.writeString(conf, config(otherPort, true));
        signal("HUP");
        await("app_added reachable after SIGHUP").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .failFast("bin/pgproxy exited", () -> !proxy.isAlive())
                .until(() -> works(port, "app_added"));
        awaitLog("the port change is refused", mark, "pgproxy.listen.port cannot change while running");
        assertFalse(accepts(otherPort), "nothing listens on the refused port");

        // The original port back, and max-clients down to 1: no warning, the port was never changed.
        mark = logText().length();
        Files.writeString(conf, config(port, true) + "pgproxy.limits.max-clients = 1\n");
        signal("HUP");
        awaitLog("second reload applied", mark, "reload: configuration applied");
        assertFalse(logSince(mark).contains("cannot change"), "no warning for the port in force:\n" + logSince(mark));

        // A client refused at max-clients is logged, with where it came from.
        mark = logText().length();
        try (Connection only = await("a client fits under max-clients 1").atMost(Duration.ofSeconds(30))
                .ignoreExceptions().until(() -> connect(port, "app_trust"), c -> c != null)) {
            assertEquals("1", query(only, "SELECT 1"));
            // A raw socket that sends nothing: a client's startup packet could meet the closed
            // socket and turn the proxy's answer into a reset, and the answer is what is checked.
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
                assertTrue(answer.startsWith("E") && answer.contains("C53300"), answer);
            }
            awaitLog("max-clients refusal logged", mark, "refused (too many clients)");
            assertTrue(logSince(mark).contains("/127.0.0.1:"), "remote address expected:\n" + logSince(mark));
        }
    }

    static Path pgIsReady() {
        try {
            Process p = new ProcessBuilder("pg_config", "--bindir").redirectErrorStream(true).start();
            String dir = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            Path bin = Path.of(dir, "pg_isready");
            return p.waitFor() == 0 && Files.isExecutable(bin) ? bin : null;
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }

    static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
