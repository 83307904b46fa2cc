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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The console's RELOAD and SHUTDOWN in the real launcher ({@code bin/pgproxy <config>}): Main wires
 * them to what SIGHUP and SIGTERM do.
 */
@Timeout(180)
@ExtendWith(SharedPostgres.class)
class AdminConsoleLauncherIT {
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
        if (log != null && Files.exists(log)) {
            System.out.println("---- bin/pgproxy output ----\n" + Files.readString(log, StandardCharsets.UTF_8));
        }
    }

    private static String config(int port, String extra) {
        return ProxyFixture.standardConfig(pg).replace("listen { host = \"127.0.0.1\", port = 0 }",
                "listen { host = \"127.0.0.1\", port = " + port + " }") + "pgproxy.admin-users = [scram_user]\n" + extra;
    }

    private static Connection console(int port) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", SCRAM_USER);
        p.setProperty("password", SCRAM_PW);
        p.setProperty("sslmode", "disable");
        p.setProperty("preferQueryMode", "simple");
        p.setProperty("connectTimeout", "5");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/pgbouncer", p);
    }

    @Test
    void reloadRereadsTheFileAndShutdownDrainsAndExits() throws Exception {
        int port = SignalsIT.freePort();
        Path conf = dir.resolve("pgproxy.conf");
        Files.writeString(conf, config(port, ""));
        log = dir.resolve("pgproxy.log");
        ProcessBuilder pb = new ProcessBuilder(SignalsIT.launcher().toString(), conf.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        proxy = pb.start();
        await("bin/pgproxy serves its console").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .failFast("bin/pgproxy exited", () -> !proxy.isAlive())
                .ignoreExceptions().until(() -> {
                    try (Connection c = console(port)) {
                        return true;
                    }
                });
        try (Connection c = console(port); Statement s = c.createStatement()) {
            Files.writeString(conf, config(port, "pgproxy.pool.size = 7\n"));
            s.execute("RELOAD");
            assertEquals("7", ConsoleClient.rowFor(c, "SHOW CONFIG", "key", "pgproxy.pool.size").get("value"));

            Files.writeString(conf, config(port, "pgproxy.pool.size = 0\n"));
            SQLException e = assertThrows(SQLException.class, () -> s.execute("RELOAD"));
            assertEquals("F0000", e.getSQLState());
            assertTrue(e.getMessage().contains("pgproxy.pool.size"), e.getMessage());
            assertEquals("7", ConsoleClient.rowFor(c, "SHOW CONFIG", "key", "pgproxy.pool.size").get("value"));

            s.execute("SHUTDOWN");
        }
        assertTrue(proxy.waitFor(30, TimeUnit.SECONDS), "bin/pgproxy still running 30 s after SHUTDOWN");
    }
}
