package io.pgproxy.it;

import io.pgproxy.admin.AdminConsole;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** Helpers for the admin console ITs: a proxy with the console, and the console through pgjdbc and psql. */
final class ConsoleClient {
    static final Path PSQL = Path.of("/usr/bin/psql");
    static final Path PGBENCH = Path.of("/usr/bin/pgbench");
    /** scram_user is an admin, md5_user a stats user, trust_user neither. */
    static final String ROLES = """
            pgproxy.admin-users = [scram_user]
            pgproxy.stats-users = [md5_user]
            """;

    private ConsoleClient() {
    }

    /** A transaction-pooling proxy in front of {@code pg} with the console; RELOAD and SHUTDOWN call the given actions. */
    static ProxyFixture proxy(PostgresFixture pg, String overrides, Callable<?> reload, Runnable shutdown) {
        String hocon = ProxyFixture.standardConfig(pg) + "pgproxy.pool.mode = transaction\n" + ROLES + overrides;
        return ProxyFixture.start(hocon, server -> new AdminConsole(server, reload, shutdown));
    }

    static ProxyFixture proxy(PostgresFixture pg, String overrides) {
        return proxy(pg, overrides, () -> null, () -> { });
    }

    /** pgjdbc in simple query mode, as the console requires. */
    static Connection console(ProxyFixture proxy, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple");
        return proxy.connect(user, password, "pgbouncer", p);
    }

    static Connection admin(ProxyFixture proxy) throws SQLException {
        return console(proxy, PostgresFixture.SCRAM_USER, PostgresFixture.SCRAM_PW);
    }

    /** The rows of a SHOW, each column by name, in order. */
    static List<Map<String, String>> show(Connection c, String command) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(command)) {
            ResultSetMetaData md = rs.getMetaData();
            List<Map<String, String>> rows = new ArrayList<>();
            while (rs.next()) {
                Map<String, String> row = new LinkedHashMap<>();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    row.put(md.getColumnName(i), rs.getString(i));
                }
                rows.add(row);
            }
            return rows;
        }
    }

    /** Column name → type name (int4, int8, text, numeric) of a SHOW. */
    static Map<String, String> types(Connection c, String command) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(command)) {
            ResultSetMetaData md = rs.getMetaData();
            Map<String, String> types = new LinkedHashMap<>();
            for (int i = 1; i <= md.getColumnCount(); i++) {
                types.put(md.getColumnName(i), md.getColumnTypeName(i));
            }
            return types;
        }
    }

    /** The row of {@code SHOW POOLS} (or another per-database SHOW) for one database, or null. */
    static Map<String, String> rowFor(Connection c, String command, String column, String value) throws SQLException {
        return show(c, command).stream().filter(r -> value.equals(r.get(column))).findFirst().orElse(null);
    }

    static int intOf(Map<String, String> row, String column) {
        return row == null ? 0 : Integer.parseInt(row.get(column));
    }

    static long longOf(Map<String, String> row, String column) {
        return row == null ? 0 : Long.parseLong(row.get(column));
    }

    record Run(int exit, String output) {
    }

    /** psql against the console: {@code psql -X --csv -c command}; output and errors merged. */
    static Run psql(ProxyFixture proxy, String user, String password, Path dir, String command)
            throws IOException, InterruptedException {
        return tool(Map.of("PGHOST", "127.0.0.1", "PGPORT", String.valueOf(proxy.port()), "PGUSER", user,
                "PGPASSWORD", password, "PGDATABASE", "pgbouncer", "PGCONNECT_TIMEOUT", "10"),
                List.of(PSQL.toString(), "-X", "--csv", "-c", command), dir, 60);
    }

    /** Runs a libpq tool with only {@code env} as its PG* environment. */
    static Run tool(Map<String, String> env, List<String> command, Path dir, int timeoutSeconds)
            throws IOException, InterruptedException {
        Started t = start(env, command, dir);
        if (!t.process().waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            t.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError(command + " did not finish in " + timeoutSeconds + " s:\n" + t.output());
        }
        return new Run(t.process().exitValue(), t.output());
    }

    /** A tool running, its output and errors going to {@code out}. */
    record Started(Process process, Path out) {
        String output() throws IOException {
            return Files.readString(out, StandardCharsets.UTF_8);
        }
    }

    static Started start(Map<String, String> env, List<String> command, Path dir) throws IOException {
        Path out = Files.createTempFile(dir, "run", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
        pb.environment().putAll(env);
        return new Started(pb.start(), out);
    }

    /** psql --csv output as rows of column → value (no quoting in the console's values). */
    static List<Map<String, String>> csv(String output) {
        List<String> lines = output.strip().lines().toList();
        String[] header = lines.getFirst().split(",", -1);
        List<Map<String, String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] v = line.split(",", -1);
            Map<String, String> row = new HashMap<>();
            for (int i = 0; i < header.length; i++) {
                row.put(header[i], i < v.length ? v[i] : null);
            }
            rows.add(row);
        }
        return rows;
    }
}
