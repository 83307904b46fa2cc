package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * libpq clients from the system (psql, pgbench) through the proxy; skipped where they are not installed.
 * psql and pgbench negotiate like any libpq application: SSLRequest (answered N), SCRAM, simple protocol.
 */
@Timeout(120)
@ExtendWith(SharedPostgres.class)
class ClientToolsIT {

    static final Path PSQL = Path.of("/usr/bin/psql");
    static final Path PGBENCH = Path.of("/usr/bin/pgbench");

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

    record Result(int exit, String output) {
    }

    /** Runs a tool with libpq's environment; output and errors merged; bounded. */
    static Result run(Map<String, String> env, List<String> command, Path dir) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
        pb.environment().putAll(env);
        Path out = Files.createTempFile(dir, "out", ".txt");
        pb.redirectOutput(out.toFile());
        Process p = pb.start();
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail(command + " did not finish in 90 s; output:\n" + Files.readString(out));
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    static Map<String, String> libpqEnv(int port, String user, String password, String db) {
        Map<String, String> env = new java.util.HashMap<>(Map.of("PGHOST", "127.0.0.1", "PGPORT", String.valueOf(port),
                "PGUSER", user, "PGDATABASE", db, "PGCONNECT_TIMEOUT", "10", "PGAPPNAME", "pgproxy-it"));
        if (password != null) env.put("PGPASSWORD", password);
        return env;
    }

    static Map<String, String> viaProxy(String user, String password, String db) {
        return libpqEnv(proxy.port(), user, password, db);
    }

    @Test
    void psqlSelectOne(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(PSQL), "psql not installed");
        // sslmode=prefer by default: libpq sends SSLRequest first, the proxy answers N, then SCRAM in plaintext
        Result r = run(viaProxy(SCRAM_USER, SCRAM_PW, "app_trust"), List.of(PSQL.toString(), "-X", "-At", "-c", "select 1"), dir);
        assertEquals(0, r.exit(), r.output());
        assertEquals("1", r.output().strip());
    }

    @Test
    void psqlWrongPasswordFailsCleanly(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(PSQL), "psql not installed");
        Result r = run(viaProxy(MD5_USER, "wrong", "app_trust"), List.of(PSQL.toString(), "-X", "-At", "-c", "select 1"), dir);
        assertEquals(2, r.exit(), r.output()); // psql: 2 = connection failed
        assertTrue(r.output().contains("authentication failed"), r.output());
    }

    @Test
    void psqlScriptGivesTheSameOutputAsDirect(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(PSQL), "psql not installed");
        Path script = dir.resolve("script.sql");
        Files.writeString(script, """
                \\set ON_ERROR_STOP on
                CREATE TEMP TABLE t(id int PRIMARY KEY, name text);
                INSERT INTO t SELECT g, 'näme ' || g FROM generate_series(1, 50) g;
                BEGIN;
                UPDATE t SET name = upper(name) WHERE id % 10 = 0;
                SAVEPOINT s;
                DELETE FROM t;
                ROLLBACK TO SAVEPOINT s;
                COMMIT;
                SELECT count(*), sum(id), string_agg(name, ',' ORDER BY id) FILTER (WHERE id % 10 = 0) FROM t;
                \\copy (SELECT id, name FROM t WHERE id <= 3 ORDER BY id) TO STDOUT
                SELECT current_user, current_database();
                \\echo done
                """);
        List<String> cmd = new ArrayList<>(List.of(PSQL.toString(), "-X", "-A", "-t", "-q", "-f", script.toString()));
        Result proxied = run(viaProxy(MD5_USER, MD5_PW, "app_trust"), cmd, dir);
        Result direct = run(libpqEnv(pg.port(), TRUST_USER, null, pg.db()), cmd, dir);
        assertEquals(0, proxied.exit(), proxied.output());
        assertEquals(0, direct.exit(), direct.output());
        assertEquals(direct.output(), proxied.output());
        assertTrue(proxied.output().contains("50|1275|NÄME 10,NÄME 20,NÄME 30,NÄME 40,NÄME 50"), proxied.output());
        assertTrue(proxied.output().strip().endsWith("done"), proxied.output());
    }

    @Test
    @Timeout(180)
    void pgbenchInitSelectOnlyAndDefaultScriptHaveNoFailures(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(PGBENCH), "pgbench not installed");
        Map<String, String> env = viaProxy(SCRAM_USER, SCRAM_PW, "app_trust");

        Result init = run(env, List.of(PGBENCH.toString(), "-i", "-s", "1", "-q"), dir);
        assertEquals(0, init.exit(), init.output());
        assertTrue(init.output().contains("done in"), init.output());

        Result selectOnly = run(env, List.of(PGBENCH.toString(), "-S", "-T", "3", "-c", "4", "-j", "2"), dir);
        assertPgbenchClean(selectOnly);

        Result tpcb = run(env, List.of(PGBENCH.toString(), "-T", "3", "-c", "4", "-j", "2"), dir);
        assertPgbenchClean(tpcb);

        // extended protocol with named prepared statements, which session mode must carry
        Result prepared = run(env, List.of(PGBENCH.toString(), "-S", "-M", "prepared", "-T", "2", "-c", "4", "-j", "2"), dir);
        assertPgbenchClean(prepared);
    }

    static void assertPgbenchClean(Result r) {
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("number of failed transactions: 0 "), r.output());
        var m = java.util.regex.Pattern.compile("number of transactions actually processed: (\\d+)").matcher(r.output());
        assertTrue(m.find(), r.output());
        assertTrue(Long.parseLong(m.group(1)) > 0, r.output());
    }
}
