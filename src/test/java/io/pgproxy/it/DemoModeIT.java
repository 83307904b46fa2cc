package io.pgproxy.it;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The README's first command, {@code bin/pgproxy --demo}: the psql lines it prints work as
 * printed (TLS with sslmode=require) and with verify-full against the certificate it made,
 * and SIGTERM stops it and deletes that certificate.
 */
@Timeout(240)
class DemoModeIT {
    @TempDir
    Path dir;
    Process demo;
    Path log;

    @AfterEach
    void stop() throws Exception {
        if (demo != null && demo.isAlive()) {
            demo.destroyForcibly();
            demo.waitFor(20, TimeUnit.SECONDS);
        }
        if (log != null && Files.exists(log)) {
            System.out.println("---- bin/pgproxy --demo output ----\n" + Files.readString(log, StandardCharsets.UTF_8));
        }
    }

    @Test
    void theDemoServesTlsWithACertificateItMadeAndDeletesItOnExit() throws Exception {
        assumeTrue(Files.isExecutable(ConsoleClient.PSQL), "psql is not installed");
        int port = SignalsIT.freePort();
        int metricsPort = SignalsIT.freePort();
        Path conf = Files.writeString(dir.resolve("demo.conf"),
                "pgproxy.listen.port = " + port + "\npgproxy.metrics.listen-port = " + metricsPort + "\n");
        log = dir.resolve("demo.log");
        ProcessBuilder pb = new ProcessBuilder(SignalsIT.launcher().toString(), "--demo", conf.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        demo = pb.start();
        await("the demo prints how to connect").atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(200))
                .failFast("bin/pgproxy --demo exited", () -> !demo.isAlive())
                .until(() -> Files.readString(log).contains("Press Ctrl-C"));
        String out = Files.readString(log);
        Matcher line = Pattern.compile("PGPASSWORD=(\\S+) psql \"([^\"]*dbname=demo[^\"]*)\"").matcher(out);
        assertTrue(line.find(), out);
        assertTrue(line.group(2).contains("sslmode=require"), line.group(2));
        Matcher root = Pattern.compile("sslrootcert=(\\S+)").matcher(out);
        assertTrue(root.find(), out);
        Path cert = Path.of(root.group(1));

        Map<String, String> env = new HashMap<>(Map.of("PGPASSWORD", line.group(1), "PGCONNECT_TIMEOUT", "10"));
        ClientToolsIT.Result printed = ClientToolsIT.run(env,
                List.of(ConsoleClient.PSQL.toString(), "-X", line.group(2), "-c", "\\conninfo"), dir);
        assertEquals(0, printed.exit(), printed.output());
        assertTrue(printed.output().contains("SSL connection"), printed.output());
        ClientToolsIT.Result verified = ClientToolsIT.run(env, List.of(ConsoleClient.PSQL.toString(), "-X",
                "host=localhost port=" + port + " dbname=demo user=demo sslmode=verify-full sslrootcert=" + cert,
                "-tAc", "SELECT 6 * 7"), dir);
        assertEquals(0, verified.exit(), verified.output());
        assertEquals("42", verified.output().strip());

        demo.toHandle().destroy(); // SIGTERM
        assertTrue(demo.waitFor(60, TimeUnit.SECONDS), "the demo did not stop on SIGTERM");
        assertFalse(Files.exists(cert), "the demo's certificate outlived it");
    }
}
