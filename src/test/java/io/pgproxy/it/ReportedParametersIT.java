package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.pool.Pool;
import io.pgproxy.session.PinReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.postgresql.PGConnection;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every parameter PostgreSQL 17 reports (GUC_REPORT), set every way a client can, under transaction
 * pooling: a client's setting must follow it to whichever backend serves it, must not leak to the
 * other clients of that backend, and each client must be told (ParameterStatus) what a direct
 * connection would be told. search_path, unreported before PostgreSQL 18, is the unreported case.
 *
 * <p>The oracle is always a direct connection to the same PostgreSQL that logs in with the same
 * startup parameters and runs the same statements: what it gets, results and SQLSTATEs, is what the
 * client through the proxy must get.
 *
 * <p>Two scenarios per case. <em>Shared</em>: a pool of one backend, so client B runs on the backend
 * client A just changed, and A then runs on it after B. <em>Moved</em>: a pool of two, B holds A's
 * backend in a transaction, so A continues on the other one. A proxy that pins A to its backend instead
 * of carrying its state is correct too: then B is checked on another backend (moved) or after A has
 * left (shared).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class ReportedParametersIT {

    /** A superuser role that is not the login user: SET SESSION AUTHORIZATION to it keeps is_superuser on. */
    private static final String SUPER_ROLE = "guc_super";
    private static final String PLAIN_ROLE = "guc_plain";
    /** NOLOGIN superuser granted to trust_user, so a plain login can become superuser with SET ROLE. */
    private static final String ADMIN_ROLE = "guc_admin";
    private static final String TRUST = PostgresFixture.TRUST_USER;
    private static final String SUPER = PostgresFixture.SUPERUSER;


    private static final List<String> AUTH_CHECKS = List.of("SELECT current_user", "SELECT session_user",
            "SHOW is_superuser", "SHOW session_authorization", "SHOW role");
    private static final List<String> AUTH_REPORTED = List.of("is_superuser", "session_authorization");

    private PostgresFixture pg;
    private ProxyFixture proxy;
    /**
     * Database names through the proxy per pool size, each used by one test only: its pool's
     * backends are new and retired after the test, so no case sees what an earlier one left there.
     */
    private int aliasesPerSize;
    private final Map<Integer, AtomicInteger> nextAlias = new ConcurrentHashMap<>();
    private final Set<String> usedAliases = ConcurrentHashMap.newKeySet();

    @BeforeAll
    void start(PostgresFixture database) throws SQLException {
        pg = database;
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("CREATE ROLE " + SUPER_ROLE + " LOGIN SUPERUSER");
            s.execute("CREATE ROLE " + PLAIN_ROLE);
            s.execute("CREATE ROLE " + ADMIN_ROLE + " SUPERUSER");
            s.execute("GRANT " + ADMIN_ROLE + " TO " + TRUST);
        }
        StringBuilder hocon = new StringBuilder("""
                pgproxy.pool.wait-timeout = 2s
                # pg_hba trusts postgres over TCP: the proxy logs in as the client's user, so a
                # superuser client runs as postgres on its backends.
                pgproxy.users.postgres { auth = trust }
                """);
        // Every parameterised case once, plus the few single tests.
        aliasesPerSize = (int) (settable().count() + readOnly().count() + logins().count()) + 10;
        for (int size = 1; size <= 2; size++) {
            for (int i = 0; i < aliasesPerSize; i++) {
                hocon.append("pgproxy.databases.p").append(size).append('_').append(i)
                        .append(" { host = \"").append(pg.host()).append("\", port = ").append(pg.port())
                        .append(", dbname = \"").append(pg.db()).append("\", pool-size = ").append(size)
                        .append(" }\n");
            }
        }
        proxy = ProxyFixture.startTransactionPooling(pg, hocon.toString());
    }

    @AfterAll
    void stop() {
        if (proxy != null) {
            proxy.close();
        }
    }

    /** Closes the backends the test's pools opened, leased ones as soon as they come back. */
    @AfterEach
    void retirePools() {
        for (Pool p : proxy.server().leases().pools()) {
            if (usedAliases.remove(p.name())) {
                p.retire();
            }
        }
    }

    private String alias(int poolSize) {
        int n = nextAlias.computeIfAbsent(poolSize, k -> new AtomicInteger()).getAndIncrement();
        if (n >= aliasesPerSize) {
            throw new IllegalStateException("more tests than database names: count the new ones in start()");
        }
        String name = "p" + poolSize + "_" + n;
        usedAliases.add(name);
        return name;
    }

    // ------------------------------------------------------------------ cases

    enum Kind {
        /** pgjdbc, prepareThreshold=0: the client most applications use. */
        JDBC,
        /** Raw protocol, simple Query: startup parameters pgjdbc never sends (client_encoding, any GUC). */
        WIRE
    }

    /**
     * One way client A sets a parameter.
     *
     * @param startup  A's extra startup parameters (WIRE) or pgjdbc properties (JDBC); B has none
     * @param script   A's statements, in autocommit: BEGIN/COMMIT are statements of their own
     * @param checks   what B and A run afterwards to see their values
     * @param reported the ParameterStatus names whose last value each client was told is compared
     */
    record Case(String parameter, String way, Kind kind, String user, Map<String, String> startup,
                List<String> script, List<String> checks, List<String> reported) {
        @Override
        public String toString() {
            return parameter + " by " + way + (kind == Kind.WIRE ? " [raw protocol]" : "")
                    + (user.equals(TRUST) ? "" : " [as " + user + "]");
        }
    }

    /** A settable parameter with two values unlike its default and unlike pgjdbc's startup values. */
    private record Settable(String name, String reportedAs, String value, String other, Kind kind) {
        List<String> checks() {
            return List.of("SHOW " + name, "SELECT current_setting('" + name + "')");
        }

        List<String> reported() {
            return reportedAs == null ? List.of() : List.of(reportedAs);
        }

        Case of(String way, Map<String, String> startup, String... script) {
            return of(way, kind, startup, script);
        }

        Case of(String way, Kind k, Map<String, String> startup, String... script) {
            List<String> s = new ArrayList<>(List.of(script));
            s.add("SELECT current_setting('" + name + "')");
            return new Case(name, way, k, TRUST, startup, s, checks(), reported());
        }
    }

    private static String literal(String v) {
        return "'" + v.replace("'", "''") + "'";
    }

    /** A value inside the options startup parameter: a backslash escapes spaces, as libpq's PGOPTIONS. */
    private static String optionValue(String v) {
        return v.replace("\\", "\\\\").replace(" ", "\\ ");
    }

    private static Map<String, String> options(String name, String value) {
        return Map.of("options", "-c " + name + "=" + optionValue(value));
    }

    private static List<Case> waysOfSetting(Settable p) {
        String n = p.name(), v = literal(p.value()), w = literal(p.other());
        return List.of(
                p.of("startup parameter", Kind.WIRE, Map.of(n, p.value())),
                p.of("options -c", options(n, p.value())),
                p.of("SET", Map.of(), "SET " + n + " = " + v),
                p.of("SET SESSION", Map.of(), "SET SESSION " + n + " = " + v),
                p.of("set_config(is_local false)", Map.of(), "SELECT set_config('" + n + "', " + v + ", false)"),
                p.of("SET LOCAL", Map.of(), "BEGIN", "SET LOCAL " + n + " = " + v,
                        "SELECT current_setting('" + n + "')", "COMMIT"),
                p.of("set_config(is_local true)", Map.of(), "BEGIN", "SELECT set_config('" + n + "', " + v + ", true)",
                        "SELECT current_setting('" + n + "')", "COMMIT"),
                p.of("SET then RESET", Map.of(), "SET " + n + " = " + v, "RESET " + n),
                p.of("options -c, SET, then RESET to the startup value", options(n, p.value()),
                        "SET " + n + " = " + w, "RESET " + n),
                p.of("SET then SET TO DEFAULT", Map.of(), "SET " + n + " = " + v, "SET " + n + " TO DEFAULT"),
                p.of("SET then RESET ALL", Map.of(), "SET " + n + " = " + v, "RESET ALL"),
                p.of("SET in a committed transaction", Map.of(), "BEGIN", "SET " + n + " = " + v, "COMMIT"),
                p.of("SET in a rolled-back transaction", Map.of(), "BEGIN", "SET " + n + " = " + v, "ROLLBACK"),
                p.of("SET rolled back to a savepoint", Map.of(), "BEGIN", "SET " + n + " = " + v, "SAVEPOINT s",
                        "SET " + n + " = " + w, "ROLLBACK TO SAVEPOINT s", "COMMIT"));
    }

    static Stream<Case> settable() {
        List<Case> all = new ArrayList<>();
        Settable applicationName = new Settable("application_name", "application_name", "guc-a", "guc-b", Kind.JDBC);
        all.addAll(waysOfSetting(applicationName));
        all.add(applicationName.of("pgjdbc ApplicationName", Map.of("ApplicationName", "guc-a")));
        all.add(applicationName.of("options -c", Kind.WIRE, options("application_name", "guc-a")));

        // pgjdbc insists on UTF8, so client_encoding is set over the raw protocol only.
        Settable clientEncoding = new Settable("client_encoding", "client_encoding", "LATIN1", "WIN1252", Kind.WIRE);
        all.addAll(waysOfSetting(clientEncoding));
        all.add(clientEncoding.of("SET NAMES", Map.of(), "SET NAMES 'LATIN1'"));

        // pgjdbc insists on an ISO output style; other styles are in the raw-protocol special case below.
        Settable dateStyle = new Settable("DateStyle", "DateStyle", "ISO, DMY", "ISO, YMD", Kind.JDBC);
        all.addAll(waysOfSetting(dateStyle));
        all.add(dateStyle.of("SET datestyle TO dmy (order only)", Map.of(), "SET datestyle TO dmy"));
        // pgjdbc sends DateStyle and TimeZone as startup parameters too, which PostgreSQL applies after options.
        all.add(dateStyle.of("options -c", Kind.WIRE, options("DateStyle", "SQL, DMY")));

        all.addAll(waysOfSetting(new Settable("default_transaction_read_only", "default_transaction_read_only",
                "on", "off", Kind.JDBC)));
        all.addAll(waysOfSetting(new Settable("IntervalStyle", "IntervalStyle", "iso_8601", "sql_standard", Kind.JDBC)));
        all.addAll(waysOfSetting(new Settable("scram_iterations", "scram_iterations", "8192", "1024", Kind.JDBC)));
        all.addAll(waysOfSetting(new Settable("standard_conforming_strings", "standard_conforming_strings",
                "off", "on", Kind.JDBC)));

        Settable timeZone = new Settable("TimeZone", "TimeZone", "Asia/Kolkata", "America/Lima", Kind.JDBC);
        all.addAll(waysOfSetting(timeZone));
        all.add(timeZone.of("SET TIME ZONE", Map.of(), "SET TIME ZONE 'Asia/Kolkata'"));
        all.add(timeZone.of("SET TIME ZONE then SET TIME ZONE LOCAL", Map.of(),
                "SET TIME ZONE 'Asia/Kolkata'", "SET TIME ZONE LOCAL"));
        all.add(timeZone.of("options -c", Kind.WIRE, options("TimeZone", "Asia/Kolkata")));

        all.addAll(waysOfSetting(new Settable("search_path", null, "guc_schema", "guc_other", Kind.JDBC)));

        all.addAll(authorization());
        return selected(all);
    }

    private static Case auth(String parameter, String way, String user, Map<String, String> startup, String... script) {
        return auth(parameter, way, Kind.JDBC, user, startup, script);
    }

    private static Case auth(String parameter, String way, Kind kind, String user, Map<String, String> startup,
                             String... script) {
        List<String> s = new ArrayList<>(List.of(script));
        s.addAll(AUTH_CHECKS);
        return new Case(parameter, way, kind, user, startup, s, AUTH_CHECKS, AUTH_REPORTED);
    }

    /**
     * is_superuser and session_authorization change with the role a session runs as. SET ROLE and SET
     * SESSION AUTHORIZATION need a superuser (or a member of the role), so these clients log in as
     * postgres, and B, on the same pool, as postgres too: B must run as postgres, not as A's role.
     */
    private static List<Case> authorization() {
        String setRole = "SET ROLE " + PLAIN_ROLE;
        String setAuth = "SET SESSION AUTHORIZATION " + PLAIN_ROLE;
        return List.of(
                auth("is_superuser", "SET ROLE", SUPER, Map.of(), setRole),
                auth("is_superuser", "SET SESSION ROLE", SUPER, Map.of(), "SET SESSION ROLE " + PLAIN_ROLE),
                auth("is_superuser", "set_config('role')", SUPER, Map.of(),
                        "SELECT set_config('role', '" + PLAIN_ROLE + "', false)"),
                auth("is_superuser", "SET LOCAL ROLE", SUPER, Map.of(), "BEGIN", "SET LOCAL ROLE " + PLAIN_ROLE,
                        "SELECT current_user", "COMMIT"),
                auth("is_superuser", "SET ROLE then RESET ROLE", SUPER, Map.of(), setRole, "RESET ROLE"),
                auth("is_superuser", "SET ROLE then SET ROLE NONE", SUPER, Map.of(), setRole, "SET ROLE NONE"),
                auth("is_superuser", "SET ROLE in a rolled-back transaction", SUPER, Map.of(), "BEGIN", setRole,
                        "ROLLBACK"),
                auth("is_superuser", "options -c role", SUPER, Map.of("options", "-c role=" + PLAIN_ROLE)),
                // Not "startup parameter role" over the raw protocol: pgproxy greets before any
                // backend has applied the role, so is_superuser in the greeting is the login's
                // (README, Limitations); the first query's ParameterStatus corrects it.
                auth("is_superuser", "SET SESSION AUTHORIZATION", SUPER, Map.of(), setAuth),
                auth("is_superuser", "SET ROLE to a superuser role", TRUST, Map.of(), "SET ROLE " + ADMIN_ROLE),
                auth("is_superuser", "SET is_superuser (refused)", SUPER, Map.of(), "SET is_superuser = off"),

                auth("session_authorization", "SET SESSION AUTHORIZATION", SUPER, Map.of(), setAuth),
                auth("session_authorization", "SET SESSION AUTHORIZATION to another superuser", SUPER, Map.of(),
                        "SET SESSION AUTHORIZATION " + SUPER_ROLE),
                auth("session_authorization", "SET session_authorization =", SUPER, Map.of(),
                        "SET session_authorization = '" + PLAIN_ROLE + "'"),
                auth("session_authorization", "set_config", SUPER, Map.of(),
                        "SELECT set_config('session_authorization', '" + PLAIN_ROLE + "', false)"),
                auth("session_authorization", "SET LOCAL SESSION AUTHORIZATION", SUPER, Map.of(), "BEGIN",
                        "SET LOCAL SESSION AUTHORIZATION " + PLAIN_ROLE, "SELECT session_user", "COMMIT"),
                auth("session_authorization", "SET then RESET SESSION AUTHORIZATION", SUPER, Map.of(), setAuth,
                        "RESET SESSION AUTHORIZATION"),
                auth("session_authorization", "SET then SET SESSION AUTHORIZATION DEFAULT", SUPER, Map.of(), setAuth,
                        "SET SESSION AUTHORIZATION DEFAULT"),
                auth("session_authorization", "SET in a rolled-back transaction", SUPER, Map.of(), "BEGIN", setAuth,
                        "ROLLBACK"),
                auth("session_authorization", "SET ROLE after SET SESSION AUTHORIZATION", SUPER, Map.of(),
                        "SET SESSION AUTHORIZATION " + SUPER_ROLE, setRole),
                auth("session_authorization", "options -c session_authorization", SUPER,
                        Map.of("options", "-c session_authorization=" + PLAIN_ROLE)));
    }

    /**
     * Parameters a client cannot set: every attempt must fail as it does directly, and the value
     * reported must be the server's.
     */
    static Stream<Case> readOnly() {
        Map<String, String> tries = new LinkedHashMap<>();
        tries.put("in_hot_standby", "on");
        tries.put("integer_datetimes", "off");
        tries.put("server_encoding", "LATIN1");
        tries.put("server_version", "99.0");
        List<Case> all = new ArrayList<>();
        tries.forEach((n, value) -> {
            Settable p = new Settable(n, n, value, value, Kind.JDBC);
            String v = literal(value);
            all.add(p.of("SET", Map.of(), "SET " + n + " = " + v));
            all.add(p.of("set_config", Map.of(), "SELECT set_config('" + n + "', " + v + ", false)"));
            all.add(p.of("SET LOCAL", Map.of(), "BEGIN", "SET LOCAL " + n + " = " + v, "COMMIT"));
            all.add(p.of("options -c", options(n, value)));
            all.add(p.of("startup parameter", Kind.WIRE, Map.of(n, value)));
        });
        return selected(all);
    }

    /**
     * The cases whose name matches {@code -Dpgproxy.test.cases=REGEX}, all without it: to run one,
     * e.g. {@code bin/test -Dit.test=ReportedParametersIT "-Dit.jvm.args=-Dpgproxy.test.cases=TimeZone.by.SET.then"}
     * (a dot for each space: the JVM arguments are split at spaces).
     */
    private static Stream<Case> selected(List<Case> all) {
        String only = System.getProperty("pgproxy.test.cases");
        Pattern p = only == null ? null : Pattern.compile(only);
        return all.stream().filter(c -> p == null || p.matcher(c.toString()).find());
    }

    // ------------------------------------------------------------------ tests

    // allowZeroInvocations: -Dpgproxy.test.cases may select none of these.
    @ParameterizedTest(name = "{0}", allowZeroInvocations = true)
    @MethodSource("settable")
    void sharedBackend(Case c) throws Exception {
        shared(c);
    }

    @ParameterizedTest(name = "{0}", allowZeroInvocations = true)
    @MethodSource("settable")
    void movedToAnotherBackend(Case c) throws Exception {
        moved(c);
    }

    @ParameterizedTest(name = "{0}", allowZeroInvocations = true)
    @MethodSource("readOnly")
    void readOnlyParameterRefusedAsDirectly(Case c) throws Exception {
        shared(c);
    }

    /**
     * The partial form {@code SET datestyle TO dmy} changes only the field order and keeps the
     * session's output style. Replayed as the text the client sent on a backend another client left
     * in Postgres style, it would give "Postgres, DMY" instead of the client's "ISO, DMY".
     */
    @Test
    void dateStyleOrderOnlyOverAnotherClientsPostgresStyle() throws Exception {
        String db = alias(1);
        Login bare = new Login(Kind.WIRE, TRUST, Map.of());
        List<String> check = List.of("SHOW DateStyle", "SELECT current_setting('DateStyle')");
        List<String> setB = List.of("SET datestyle = Postgres"), setA = List.of("SET datestyle TO dmy");
        Direct da = direct(bare, setA, check), dbB = direct(bare, setB, check);
        Findings f = new Findings();
        try (Client a = proxied(bare, db); Client b = proxied(bare, db)) {
            f.same("B sets Postgres style", dbB.script(), run(b, setB));
            f.same("A sets the order only", da.script(), run(a, setA));
            f.same("A after its SET", da.checks(), run(a, check));
            f.same("B after A's SET", dbB.checks(), run(b, check));
            f.same("A after B used the backend", da.checks(), run(a, check));
            f.reported("A", da.afterScript(), a, List.of("DateStyle"));
            f.reported("B", dbB.afterScript(), b, List.of("DateStyle"));
        }
        f.verify();
    }

    /**
     * asyncpg sends {@code client_encoding='utf-8'}, quotes included. PostgreSQL cleans the name and
     * reports UTF8, and asyncpg refuses to go on unless it is told exactly that.
     */
    @Test
    void quotedUtf8ClientEncodingIsReportedAsUtf8() throws Exception {
        Login asyncpg = new Login(Kind.WIRE, TRUST, Map.of("client_encoding", "'utf-8'"));
        List<String> check = List.of("SHOW client_encoding");
        Direct d = direct(asyncpg, List.of(), check);
        assertEquals("UTF8", d.greeting().get("client_encoding"), "PostgreSQL's report");
        try (Client a = proxied(asyncpg, alias(1))) {
            assertEquals("UTF8", a.reported().get("client_encoding"), "the proxy's report");
            assertEquals(d.checks(), run(a, check));
        }
    }

    static Stream<Login> logins() {
        return Stream.of(new Login(Kind.JDBC, TRUST, Map.of()), new Login(Kind.JDBC, SUPER, Map.of()),
                new Login(Kind.WIRE, TRUST, Map.of()), new Login(Kind.WIRE, SUPER, Map.of()),
                new Login(Kind.WIRE, TRUST, Map.of("DateStyle", "Postgres, DMY", "TimeZone", "Asia/Kolkata",
                        "IntervalStyle", "iso_8601", "application_name", "guc-a", "client_encoding", "LATIN1")));
    }

    /** What a client is told at login, every reported parameter: what PostgreSQL would tell it. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("logins")
    void greetingReportsWhatPostgresWould(Login login) throws Exception {
        Direct d = direct(login, List.of(), List.of());
        try (Client a = proxied(login, alias(1))) {
            assertEquals(new TreeMap<>(d.greeting()), new TreeMap<>(a.reported()));
        }
    }

    // ------------------------------------------------------------------ scenarios

    /** Pins taken in {@code db}'s pools: counted per pool, and each case has its own database. */
    private long pins(String db) {
        return proxy.server().leases().pools().stream().filter(p -> p.name().equals(db))
                .mapToLong(p -> p.stats().pins().values().stream().mapToLong(Long::longValue).sum()).sum();
    }

    /** Pool of one: B runs on the backend A changed, then A on the backend B used. */
    private void shared(Case c) throws Exception {
        String db = alias(1);
        Login loginA = new Login(c.kind(), c.user(), c.startup());
        Login loginB = new Login(c.kind(), c.user(), Map.of());
        Direct da = direct(loginA, c.script(), c.checks());
        Direct dbB = direct(loginB, List.of(), c.checks());
        Findings f = new Findings();
        long pinsBefore = pins(db);
        try (Client a = proxiedOrRefused(loginA, da, db)) {
            if (a == null) {
                return;
            }
            f.reported("A at login", da.greeting(), a, c.reported());
            f.same("A's statements", da.script(), run(a, c.script()));
            f.reported("A after its statements", da.afterScript(), a, c.reported());
            if (pins(db) > pinsBefore) {
                // A keeps the only backend, so B cannot even log in (pgjdbc runs statements at
                // connect) until A has left; what A leaves behind must not reach B either.
                f.same("A (pinned) again", da.checks(), run(a, c.checks()));
                f.reported("A (pinned) at the end", da.afterScript(), a, c.reported());
                a.close();
                try (Client b = proxied(loginB, db)) {
                    f.reported("B at login", dbB.greeting(), b, c.reported());
                    f.same("B after A left", dbB.checks(), run(b, c.checks()));
                    f.reported("B at the end", dbB.greeting(), b, c.reported());
                }
            } else {
                // A pool of one: B runs on the backend A used, unless the proxy replaced it.
                try (Client b = proxied(loginB, db)) {
                    f.reported("B at login", dbB.greeting(), b, c.reported());
                    f.same("B on the backend A used", dbB.checks(), run(b, c.checks()));
                    f.same("A after B used its backend", da.checks(), run(a, c.checks()));
                    f.reported("A at the end", da.afterScript(), a, c.reported());
                    f.same("B again, after A", dbB.checks(), run(b, c.checks()));
                    f.reported("B at the end", dbB.greeting(), b, c.reported());
                }
            }
        }
        f.verify();
    }

    /** Pool of two: B holds the backend A used in a transaction, so A continues on the other one. */
    private void moved(Case c) throws Exception {
        String db = alias(2);
        Login loginA = new Login(c.kind(), c.user(), c.startup());
        Login loginB = new Login(c.kind(), c.user(), Map.of());
        Direct da = direct(loginA, c.script(), c.checks());
        Direct dbB = direct(loginB, List.of(), c.checks());
        Findings f = new Findings();
        long pinsBefore = pins(db);
        try (Client a = proxiedOrRefused(loginA, da, db)) {
            if (a == null) {
                return;
            }
            f.reported("A at login", da.greeting(), a, c.reported());
            f.same("A's statements", da.script(), runOnOneBackend(a, c.script(), db, pinsBefore));
            f.reported("A after its statements", da.afterScript(), a, c.reported());
            boolean pinned = pins(db) > pinsBefore;
            try (Client b = proxied(loginB, db)) {
                f.reported("B at login", dbB.greeting(), b, c.reported());
                if (pinned) {
                    f.same("B on the other backend (A pinned)", dbB.checks(), run(b, c.checks()));
                    f.same("A (pinned) again", da.checks(), run(a, c.checks()));
                } else {
                    awaitSettled(db, pinsBefore);
                    int first = backendPid(a);
                    awaitSettled(db, pinsBefore);
                    // The backend returned last is handed out first: B gets the one A used,
                    // unless the proxy closed it rather than keep what A left there.
                    b.run("BEGIN");
                    f.same("B on the backend A used", dbB.checks(), run(b, c.checks()));
                    f.require(first != backendPid(a), "A moved to the other backend");
                    f.same("A on the other backend", da.checks(), run(a, c.checks()));
                    b.run("ROLLBACK");
                }
                f.reported("A at the end", da.afterScript(), a, c.reported());
                f.reported("B at the end", dbB.greeting(), b, c.reported());
            }
        }
        f.verify();
    }

    /**
     * Runs A's statements so that all of them use the same backend: between transactions it waits
     * for the backend to be back in the pool, which then hands it out again first. Otherwise a
     * statement sent before the proxy returned the previous one's backend opens the second backend,
     * and what A left where would be down to timing.
     */
    private List<Outcome> runOnOneBackend(Client c, List<String> statements, String db, long pinsBefore) {
        List<Outcome> out = new ArrayList<>();
        boolean inBlock = false;
        for (String s : statements) {
            out.add(c.run(s));
            String word = s.strip().toUpperCase(java.util.Locale.ROOT);
            if (word.equals("BEGIN")) {
                inBlock = true;
            } else if (word.equals("COMMIT") || word.equals("ROLLBACK")) {
                inBlock = false;
            }
            if (!inBlock) {
                awaitSettled(db, pinsBefore);
            }
        }
        return out;
    }
    /**
     * Every difference from the direct connection in one case, reported together: the first one
     * alone (often what B was told at login) would hide whether B also runs with A's setting.
     */
    private static final class Findings {
        private final List<String> differences = new ArrayList<>();

        void same(String step, List<Outcome> direct, List<Outcome> proxied) {
            if (!direct.equals(proxied)) {
                differences.add(step + ": directly " + direct + ", through the proxy " + proxied);
            }
        }

        void reported(String who, Map<String, String> direct, Client proxied, List<String> names) {
            Map<String, String> d = new LinkedHashMap<>(), x = new LinkedHashMap<>();
            for (String n : names) {
                d.put(n, direct.get(n));
                x.put(n, proxied.reported().get(n));
            }
            if (!d.equals(x)) {
                differences.add(who + " was told (ParameterStatus): directly " + d + ", through the proxy " + x);
            }
        }

        /** A precondition of the scenario's next steps: without it they would test nothing. */
        void require(boolean condition, String what) {
            if (!condition) {
                differences.add("scenario broken: not true that " + what);
                verify();
            }
        }

        void verify() {
            if (!differences.isEmpty()) {
                fail(differences.size() + " difference(s) from a direct connection:\n  "
                        + String.join("\n  ", differences));
            }
        }
    }

    /**
     * What a direct connection with the same login gets for the same statements: the oracle. Null
     * lists and maps when PostgreSQL refused the login.
     */
    record Direct(Refused refused, Map<String, String> greeting, List<Outcome> script,
                  Map<String, String> afterScript, List<Outcome> checks) {
    }

    /**
     * A direct session's answers depend only on its login and statements, so each is asked once
     * and serves both scenarios (and every case's B).
     */
    private final Map<List<Object>, Direct> directs = new ConcurrentHashMap<>();

    private Direct direct(Login login, List<String> script, List<String> checks) throws Exception {
        List<Object> key = List.of(login, script, checks);
        Direct d = directs.get(key);
        if (d != null) {
            return d;
        }
        try (Client c = login.direct(pg)) {
            Map<String, String> greeting = Map.copyOf(c.reported());
            List<Outcome> s = run(c, script);
            Map<String, String> after = Map.copyOf(c.reported());
            d = new Direct(null, greeting, s, after, run(c, checks));
        } catch (Refused e) {
            d = new Direct(e, null, null, null, null);
        }
        directs.put(key, d);
        return d;
    }

    private static List<Outcome> run(Client c, List<String> statements) {
        List<Outcome> out = new ArrayList<>();
        for (String s : statements) {
            out.add(c.run(s));
        }
        return out;
    }

    private Client proxied(Login login, String db) throws Refused {
        return login.proxied(proxy, db);
    }

    /**
     * A's login through the proxy. When PostgreSQL refuses it (a read-only parameter in the
     * startup packet), the proxy must refuse it with the same SQLSTATE; null then.
     */
    private Client proxiedOrRefused(Login login, Direct expected, String db) {
        Refused refusedDirectly = expected.refused();
        try {
            Client c = login.proxied(proxy, db);
            if (refusedDirectly != null) {
                c.close();
                fail("PostgreSQL refuses this login with " + refusedDirectly.sqlState + " ("
                        + refusedDirectly.getMessage() + "); the proxy accepted it");
            }
            return c;
        } catch (Refused refused) {
            if (refusedDirectly == null) {
                throw new AssertionError("PostgreSQL accepts this login, the proxy refused it: " + refused.sqlState
                        + " " + refused.getMessage(), refused);
            }
            assertEquals(refusedDirectly.sqlState, refused.sqlState, "login refused as directly ("
                    + refusedDirectly.getMessage() + "); the proxy said: " + refused.getMessage());
            return null;
        }
    }

    /**
     * The proxy hands a backend back just after relaying its ReadyForQuery, so a client's next
     * statement can come first and find it still leased. Waits until every backend is idle again,
     * or until a client was pinned since {@code pinsBefore} (then its backend stays leased).
     */
    private void awaitSettled(String db, long pinsBefore) {
        Pool pool = proxy.pool(db);
        await("every backend of " + db + " idle").atMost(Duration.ofSeconds(10))
                .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2))
                .until(() -> pins(db) > pinsBefore || pool.idleConnections() == pool.openConnections());
    }

    private static int backendPid(Client c) {
        Outcome o = c.run("SELECT pg_backend_pid()");
        if (o.sqlState() != null) {
            throw new AssertionError("SELECT pg_backend_pid() failed: " + o);
        }
        return Integer.parseInt(o.value());
    }

    // ------------------------------------------------------------------ clients

    /** What one statement gave: its first value (null when no row) or its SQLSTATE. */
    record Outcome(String statement, String value, String sqlState) {
        @Override
        public String toString() {
            return statement + " -> " + (sqlState != null ? "ERROR " + sqlState : value);
        }
    }

    static final class Refused extends Exception {
        final String sqlState;

        Refused(String sqlState, String message) {
            super(message);
            this.sqlState = sqlState;
        }
    }

    interface Client extends AutoCloseable {
        Outcome run(String sql);

        /** The last value of each ParameterStatus received so far. */
        Map<String, String> reported();

        @Override
        void close();
    }

    /** How a client logs in: kind, user, and extra startup parameters (WIRE) or pgjdbc properties (JDBC). */
    record Login(Kind kind, String user, Map<String, String> startup) {
        Client direct(PostgresFixture pg) throws Refused {
            return connect(pg.port(), pg.db());
        }

        Client proxied(ProxyFixture proxy, String db) throws Refused {
            return connect(proxy.port(), db);
        }

        private Client connect(int port, String db) throws Refused {
            return kind == Kind.JDBC ? JdbcClient.connect(port, db, this) : WireClient.connect(port, db, this);
        }

        @Override
        public String toString() {
            return kind + " " + user + (startup.isEmpty() ? "" : " " + startup);
        }
    }

    static final class JdbcClient implements Client {
        private final Connection connection;

        private JdbcClient(Connection connection) {
            this.connection = connection;
        }

        static JdbcClient connect(int port, String db, Login login) throws Refused {
            Properties p = new Properties();
            p.setProperty("user", login.user());
            p.setProperty("sslmode", "disable");
            p.setProperty("connectTimeout", "10");
            p.setProperty("socketTimeout", "60");
            // Unnamed statements only: named ones are another feature, not under test here.
            p.setProperty("prepareThreshold", "0");
            p.putAll(login.startup());
            try {
                return new JdbcClient(DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + db, p));
            } catch (SQLException e) {
                throw new Refused(e.getSQLState(), e.getMessage());
            }
        }

        @Override
        public Outcome run(String sql) {
            try (Statement s = connection.createStatement()) {
                if (!s.execute(sql)) {
                    return new Outcome(sql, null, null);
                }
                try (ResultSet rs = s.getResultSet()) {
                    return new Outcome(sql, rs.next() ? rs.getString(1) : null, null);
                }
            } catch (SQLException e) {
                return new Outcome(sql, null, e.getSQLState());
            }
        }

        @Override
        public Map<String, String> reported() {
            try {
                return connection.unwrap(PGConnection.class).getParameterStatuses();
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            try {
                connection.close();
            } catch (SQLException e) {
                // Closing is best effort: the test already has its answer.
            }
        }
    }

    /** Raw protocol: startup parameters as given, simple Query, every ParameterStatus kept. */
    static final class WireClient implements Client {
        private final PgWire wire;
        private final Map<String, String> reported = new HashMap<>();

        private WireClient(PgWire wire) {
            this.wire = wire;
        }

        static WireClient connect(int port, String db, Login login) throws Refused {
            Map<String, String> params = new LinkedHashMap<>();
            params.put("user", login.user());
            params.put("database", db);
            params.putAll(login.startup());
            WireClient c;
            try {
                c = new WireClient(PgWire.connect(port, Duration.ofSeconds(30)));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            try {
                c.wire.write(PgWire.startupMessage(PgWire.PROTOCOL_3_0, params));
                while (true) {
                    PgWire.Message m = c.wire.readMessage();
                    if (m == null) {
                        throw new Refused("08006", "closed during login");
                    }
                    switch (m.tag()) {
                        case 'R' -> {
                            if (m.buffer().getInt() != 0) {
                                throw new IllegalStateException("trust login asked for authentication");
                            }
                        }
                        case 'S' -> c.parameterStatus(m);
                        case 'E' -> {
                            Map<Character, String> f = PgWire.fields(m.body());
                            throw new Refused(f.get('C'), f.get('M'));
                        }
                        case 'Z' -> {
                            return c;
                        }
                        default -> {
                        }
                    }
                }
            } catch (Refused | RuntimeException e) {
                c.close();
                throw e;
            } catch (IOException e) {
                c.close();
                throw new IllegalStateException(e);
            }
        }

        private void parameterStatus(PgWire.Message m) {
            ByteBuffer b = m.buffer();
            String name = PgWire.cstring(b);
            reported.put(name, PgWire.cstring(b));
        }

        @Override
        public Outcome run(String sql) {
            String value = null, sqlState = null;
            boolean row = false;
            try {
                wire.write(PgWire.query(sql));
                while (true) {
                    PgWire.Message m = wire.readMessage();
                    if (m == null) {
                        return new Outcome(sql, null, "08006");
                    }
                    switch (m.tag()) {
                        case 'S' -> parameterStatus(m);
                        case 'D' -> {
                            if (!row) {
                                row = true;
                                value = firstColumn(m);
                            }
                        }
                        case 'E' -> {
                            if (sqlState == null) {
                                sqlState = PgWire.fields(m.body()).get('C');
                            }
                        }
                        case 'Z' -> {
                            return new Outcome(sql, sqlState == null ? value : null, sqlState);
                        }
                        default -> {
                        }
                    }
                }
            } catch (EOFException | SocketException e) {
                return new Outcome(sql, null, "08006");
            } catch (IOException e) {
                throw new IllegalStateException(sql + ": " + e, e);
            }
        }

        private static String firstColumn(PgWire.Message m) {
            ByteBuffer b = m.buffer();
            b.getShort();
            int len = b.getInt();
            if (len < 0) {
                return null;
            }
            byte[] v = new byte[len];
            b.get(v);
            // The values read here are ASCII in every client encoding the tests use.
            return new String(v, StandardCharsets.UTF_8);
        }

        @Override
        public Map<String, String> reported() {
            return reported;
        }

        @Override
        public void close() {
            try {
                wire.write(PgWire.frame('X', new byte[0]));
            } catch (IOException e) {
                // Already gone: nothing to terminate.
            }
            try {
                wire.close();
            } catch (IOException e) {
                // Closing is best effort: the test already has its answer.
            }
        }
    }
}
