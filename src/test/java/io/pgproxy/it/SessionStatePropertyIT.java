package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;
import net.jqwik.api.statistics.Statistics;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Session state in transaction mode, judged by PostgreSQL itself. Several clients run generated
 * programs of SET / RESET / SET LOCAL / set_config, SET SESSION AUTHORIZATION, SET ROLE, DISCARD ALL
 * and transaction blocks, interleaved step by step through the proxy over a pool of two backends, so
 * that the backends pass from client to client between statements. The same programs in the same
 * order on one direct connection per client give what each client must see: every row, command tag,
 * error and warning SQLSTATE, transaction status, and the parameters it has been told with
 * ParameterStatus, after every step.
 *
 * <p>Only one step runs at a time (each client on its own thread, handed its turn in a generated
 * order) so the answers do not depend on timing. The clients log in as the superuser {@code postgres},
 * which SET SESSION AUTHORIZATION needs, and differ in their startup parameters (each has its own
 * application_name), so state that leaks from one client to another shows.
 *
 * <p>{@code -Dpgproxy.sessionstate.tries=10000} runs a long search; the default keeps the class under a
 * minute on two cores. Alone: {@code bin/test -Dit.test=SessionStatePropertyIT -Dtest=NoSuchTest
 * -Dsurefire.failIfNoSpecifiedTests=false -Dpgproxy.sessionstate.tries=10000}.
 */
class SessionStatePropertyIT {
    static final String TRIES_PROPERTY = "pgproxy.sessionstate.tries";
    static final int DEFAULT_TRIES = 50;

    private static final int POOL_SIZE = 2;
    private static final int MAX_CLIENTS = 6;
    /** Long enough for a loaded machine, short enough to fail a withheld answer quickly. */
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(10);
    private static final String LOGIN = PostgresFixture.SUPERUSER;
    /** Roles for SET SESSION AUTHORIZATION and SET ROLE; prop_a may become prop_b, not the reverse. */
    private static final List<String> ROLES = List.of("prop_a", "prop_b", LOGIN);

    private static PostgresFixture pg;
    private static String proxyUsers;

    @BeforeContainer
    static void startPostgres() throws SQLException {
        pg = SharedPostgres.database(SessionStatePropertyIT.class);
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("CREATE ROLE prop_a");
            s.execute("CREATE ROLE prop_b");
            s.execute("GRANT prop_b TO prop_a");
            s.execute("CREATE SCHEMA prop_s");
            s.execute("GRANT USAGE ON SCHEMA prop_s TO PUBLIC");
        }
        // postgres is trusted over TCP by the fixture's pg_hba; database app has no backend user, so
        // the proxy logs in to PostgreSQL as the client's own user. Clients name the same database
        // through the proxy and directly, so the proxy also has one called like the class's database.
        proxyUsers = ProxyFixture.standardConfig(pg) + "pgproxy.users.postgres.auth = trust\n"
                + "pgproxy.databases." + pg.db() + " { host = \"" + pg.host() + "\", port = " + pg.port()
                + ", dbname = \"" + pg.db() + "\" }\n";
    }

    @AfterContainer
    static void stopPostgres() {
        if (pg != null) {
            pg.close();
        }
    }

    /**
     * A pinned client keeps its backend, and a program may pin several clients (SET LOCAL of an
     * unreported parameter, SET x = DEFAULT, ...): the reserve lets the others go on, as a larger pool
     * would, instead of waiting for a backend that only comes back when the program ends. An unpinned
     * client finds an idle pool backend first, so the two pool backends still pass between clients.
     */
    private static String proxyConfig(int poolSize) {
        return proxyUsers + """
                pgproxy.pool.mode = transaction
                pgproxy.pool.size = %d
                pgproxy.pool.reserve-size = %d
                pgproxy.pool.reserve-timeout = 20ms
                pgproxy.pool.wait-timeout = 5s
                """.formatted(poolSize, MAX_CLIENTS);
    }

    // ------------------------------------------------------------------ the vocabulary

    /** A run-time parameter: values PostgreSQL accepts, and one it rejects (null: none). */
    private record Param(String name, List<String> values, String invalid) {
    }

    /** The first six are reported with ParameterStatus, the others are not. */
    private static final List<Param> PARAMS = List.of(
            // Partial DateStyle values keep the other half of the setting: what the backend had decides.
            new Param("DateStyle", List.of("dmy", "Postgres", "ISO, MDY", "german", "SQL, DMY", "ymd", "Postgres, YMD"), "nonsense"),
            new Param("IntervalStyle", List.of("postgres", "postgres_verbose", "sql_standard", "iso_8601"), "none"),
            new Param("TimeZone", List.of("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "+02"), "Mars/Olympus"),
            new Param("application_name", List.of("alpha", "beta gamma", ""), null),
            new Param("default_transaction_read_only", List.of("on", "off"), "maybe"),
            // No statement of the programs has a backslash, so off changes no literal's meaning.
            new Param("standard_conforming_strings", List.of("on", "off"), "maybe"),
            new Param("work_mem", List.of("64kB", "4MB", "1GB", "8192"), "lots"),
            new Param("statement_timeout", List.of("1h", "0", "30min", "600000"), "soon"),
            new Param("extra_float_digits", List.of("0", "1", "3", "-2"), "9"),
            new Param("search_path", List.of("public", "pg_catalog", "\"$user\", public", "prop_s, public", "nowhere"), null));

    /** Every parameter the programs touch, and who the client is. */
    private static final String SNAPSHOT = "SELECT current_user, session_user, current_setting('role') AS role, "
            + PARAMS.stream().map(p -> "current_setting('" + p.name() + "') AS " + p.name().toLowerCase(Locale.ROOT))
            .collect(Collectors.joining(", "));

    /** What the parameters do to a query's text output, not only what current_setting says. */
    private static final String EFFECTS = "SELECT date '2024-03-05' AS d, interval '1 day 02:03:04' AS i, "
            + "timestamptz '2024-03-05 12:00:00+00' AS t, 0.1::float8 AS f, current_schemas(false) AS s";

    /** The two long queries by name, so that a printed scenario stays readable. */
    private static String shown(String sql) {
        return sql.equals(SNAPSHOT) ? "SNAPSHOT" : sql.equals(EFFECTS) ? "EFFECTS" : sql;
    }

    /** A value that SET takes without quotes: a name, a list of names, or an integer. */
    private static final Pattern BARE = Pattern.compile(
            "(?:[A-Za-z_][A-Za-z0-9_]*|\"[^\"]*\")(?:, (?:[A-Za-z_][A-Za-z0-9_]*|\"[^\"]*\"))*|-?[0-9]+");

    private static String literal(String value, boolean bare) {
        return bare && BARE.matcher(value).matches() ? value : "'" + value.replace("'", "''") + "'";
    }

    /** How a step changes the client's transaction block, for the scheduler. */
    enum Block { NONE, OPENS, CLOSES }

    record Step(String sql, Block block) {
        static Step of(String sql) {
            return new Step(sql, Block.NONE);
        }
    }

    /** One client: its startup parameters and its statements, each a simple Query. */
    record Program(Map<String, String> startup, List<Step> steps) {
    }

    /** The programs, and the order in which clients take their turns (one entry per step). */
    record Scenario(List<Program> programs, List<Integer> order) {
        Step step(int position) {
            int client = order.get(position);
            int n = Collections.frequency(order.subList(0, position), client);
            return programs.get(client).steps().get(n);
        }

        /** jqwik prints samples with this: the steps in the order they run. */
        @Override
        public String toString() {
            StringBuilder b = new StringBuilder();
            for (int c = 0; c < programs.size(); c++) {
                b.append("\n  client ").append(c).append(" startup ").append(programs.get(c).startup());
            }
            for (int i = 0; i < order.size(); i++) {
                b.append(String.format("%n  #%-3d client %d: %s", i, order.get(i), shown(step(i).sql())));
            }
            return b.toString();
        }
    }

    // ------------------------------------------------------------------ generation

    private static Arbitrary<String> spelling(String name) {
        return Arbitraries.of(name, name.toLowerCase(Locale.ROOT), name.toUpperCase(Locale.ROOT));
    }

    /** Parameter changes: inside a transaction block SET LOCAL and local set_config are likelier. */
    private static Arbitrary<String> parameterChange(boolean inBlock) {
        Arbitrary<Param> param = Arbitraries.of(PARAMS);
        Arbitrary<Boolean> bare = Arbitraries.of(true, false);
        return param.flatMap(p -> {
            Arbitrary<String> name = spelling(p.name());
            Arbitrary<String> value = Arbitraries.of(p.values());
            Arbitrary<String> set = Combinators.combine(name, Arbitraries.of(" = ", " TO "), value, bare)
                    .as((n, op, v, b) -> "SET " + n + op + literal(v, b));
            Arbitrary<String> setSession = Combinators.combine(name, value, bare).as((n, v, b) -> "SET SESSION " + n + " = " + literal(v, b));
            Arbitrary<String> setLocal = Combinators.combine(name, value, bare).as((n, v, b) -> "SET LOCAL " + n + " TO " + literal(v, b));
            Arbitrary<String> setDefault = Combinators.combine(name, Arbitraries.of(" = ", " TO ")).as((n, op) -> "SET " + n + op + "DEFAULT");
            Arbitrary<String> reset = name.map(n -> "RESET " + n);
            Arbitrary<String> setConfig = Combinators.combine(name, value, Arbitraries.of(false, true))
                    .as((n, v, local) -> "SELECT set_config('" + n + "', '" + v.replace("'", "''") + "', " + local + ")");
            Arbitrary<String> invalid = p.invalid() == null ? set
                    : Combinators.combine(name, bare).as((n, b) -> "SET " + n + " = " + literal(p.invalid(), b));
            return Arbitraries.frequencyOf(
                    Tuple.of(5, set),
                    Tuple.of(1, setSession),
                    Tuple.of(inBlock ? 4 : 1, setLocal),
                    Tuple.of(1, setDefault),
                    Tuple.of(2, reset),
                    Tuple.of(inBlock ? 3 : 2, setConfig),
                    Tuple.of(1, invalid));
        });
    }

    private static Arbitrary<String> otherChange(boolean inBlock) {
        Arbitrary<String> role = Arbitraries.of(ROLES);
        List<Tuple.Tuple2<Integer, Arbitrary<String>>> choices = new ArrayList<>(List.of(
                Tuple.of(1, Arbitraries.just("RESET ALL")),
                Tuple.of(1, Arbitraries.of("SET TIME ZONE 'Europe/Paris'", "SET TIME ZONE LOCAL",
                        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")),
                Tuple.of(3, role.map(r -> "SET SESSION AUTHORIZATION " + r)),
                Tuple.of(1, Arbitraries.of("SET SESSION AUTHORIZATION DEFAULT", "RESET SESSION AUTHORIZATION")),
                Tuple.of(2, role.map(r -> "SET ROLE " + r)),
                Tuple.of(1, Arbitraries.of("SET ROLE NONE", "RESET ROLE")),
                Tuple.of(1, role.map(r -> "SELECT set_config('role', '" + r + "', " + inBlock + ")")),
                Tuple.of(2, Arbitraries.just("DISCARD ALL"))));
        if (inBlock) {
            choices.add(Tuple.of(1, role.map(r -> "SET LOCAL ROLE " + r)));
        }
        return Arbitraries.frequencyOf(choices);
    }

    private static Arbitrary<String> observation() {
        Arbitrary<String> name = Arbitraries.of(PARAMS).flatMap(p -> spelling(p.name()));
        return Arbitraries.frequencyOf(
                Tuple.of(2, name.map(n -> "SHOW " + n)),
                Tuple.of(1, name.map(n -> "SELECT current_setting('" + n + "')")),
                Tuple.of(2, Arbitraries.just("SELECT current_user, session_user")),
                Tuple.of(2, Arbitraries.just(SNAPSHOT)),
                Tuple.of(1, Arbitraries.just(EFFECTS)));
    }

    private static Arbitrary<Step> statement(boolean inBlock) {
        Arbitrary<String> sql = Arbitraries.frequencyOf(
                Tuple.of(6, parameterChange(inBlock)),
                Tuple.of(3, otherChange(inBlock)),
                Tuple.of(5, observation()),
                // a COMMIT outside a block and a BEGIN inside one only warn
                Tuple.of(inBlock ? 2 : 1, inBlock
                        ? Arbitraries.of("SAVEPOINT sp", "ROLLBACK TO SAVEPOINT sp", "RELEASE SAVEPOINT sp", "BEGIN")
                        : Arbitraries.just("COMMIT")));
        return sql.map(Step::of);
    }

    private static Arbitrary<List<Step>> chunk() {
        Arbitrary<List<Step>> single = statement(false).map(List::of);
        Arbitrary<List<Step>> block = Combinators.combine(
                Arbitraries.of("BEGIN", "START TRANSACTION"),
                statement(true).list().ofMinSize(1).ofMaxSize(5),
                Arbitraries.of("COMMIT", "ROLLBACK", "END")).as((begin, body, end) -> {
                    List<Step> steps = new ArrayList<>();
                    steps.add(new Step(begin, Block.OPENS));
                    steps.addAll(body);
                    steps.add(new Step(end, Block.CLOSES));
                    return steps;
                });
        return Arbitraries.frequencyOf(Tuple.of(3, single), Tuple.of(1, block));
    }

    /** Startup parameters besides application_name, which each client gets to tell them apart. */
    private static Arbitrary<Map<String, String>> startup() {
        return Combinators.combine(
                Arbitraries.of("German", "SQL, DMY", "ISO, YMD").injectNull(0.6),
                Arbitraries.of("Asia/Tokyo", "America/New_York").injectNull(0.6),
                Arbitraries.of("1", "-1").injectNull(0.7),
                Arbitraries.of("sql_standard").injectNull(0.8)).as((dateStyle, timeZone, floatDigits, intervalStyle) -> {
                    Map<String, String> m = new LinkedHashMap<>();
                    if (dateStyle != null) m.put("DateStyle", dateStyle);
                    if (timeZone != null) m.put("TimeZone", timeZone);
                    if (floatDigits != null) m.put("extra_float_digits", floatDigits);
                    if (intervalStyle != null) m.put("IntervalStyle", intervalStyle);
                    return m;
                });
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        Arbitrary<Tuple.Tuple2<Map<String, String>, List<Step>>> program = Combinators.combine(
                startup(), chunk().list().ofMinSize(1).ofMaxSize(8)).as((s, chunks) -> Tuple.of(s,
                chunks.stream().flatMap(List::stream).toList()));
        return Combinators.combine(program.list().ofMinSize(2).ofMaxSize(MAX_CLIENTS), Arbitraries.longs())
                .as(SessionStatePropertyIT::scenario);
    }

    /**
     * Each program ends with a snapshot of its state. The turns are drawn from {@code seed}, but a client
     * outside a transaction block waits while {@link #POOL_SIZE} clients are inside one: all steps run one
     * at a time, so its step would wait for a backend that the clients holding them never get the turn
     * to give back.
     */
    private static Scenario scenario(List<Tuple.Tuple2<Map<String, String>, List<Step>>> drawn, long seed) {
        List<Program> programs = new ArrayList<>();
        for (int c = 0; c < drawn.size(); c++) {
            Map<String, String> startup = new LinkedHashMap<>(drawn.get(c).get1());
            startup.put("application_name", "client" + c);
            List<Step> steps = new ArrayList<>(drawn.get(c).get2());
            steps.add(Step.of(SNAPSHOT));
            programs.add(new Program(startup, steps));
        }
        Random random = new Random(seed);
        int[] next = new int[programs.size()];
        boolean[] inBlock = new boolean[programs.size()];
        int open = 0;
        List<Integer> order = new ArrayList<>();
        while (true) {
            List<Integer> eligible = new ArrayList<>();
            for (int c = 0; c < programs.size(); c++) {
                if (next[c] < programs.get(c).steps().size() && (open < POOL_SIZE || inBlock[c])) {
                    eligible.add(c);
                }
            }
            if (eligible.isEmpty()) {
                break;
            }
            int c = eligible.get(random.nextInt(eligible.size()));
            Step step = programs.get(c).steps().get(next[c]++);
            if (step.block() == Block.OPENS && !inBlock[c]) {
                inBlock[c] = true;
                open++;
            } else if (step.block() == Block.CLOSES && inBlock[c]) {
                inBlock[c] = false;
                open--;
            }
            order.add(c);
        }
        return new Scenario(programs, order);
    }

    // ------------------------------------------------------------------ the property

    @Property(shrinking = ShrinkingMode.BOUNDED)
    @AddLifecycleHook(TriesFromSystemProperty.class)
    void everyClientSeesTheSessionStateADirectConnectionHas(@ForAll("scenarios") Scenario scenario) throws Exception {
        List<Answer> direct = run(scenario, pg.port(), null);
        // Shown in the report: how many clients, and which errors and warnings the programs reach.
        Statistics.label("clients").collect(scenario.programs().size());
        direct.stream().flatMap(a -> a.messages().stream()).filter(m -> m.startsWith("E ") || m.startsWith("N "))
                .distinct().forEach(m -> Statistics.label("errors and warnings").collect(m));
        assertProxiedSame(scenario, POOL_SIZE, direct);
    }

    /** jqwik takes tries from an annotation constant; this lets one run ask for many more. */
    public static final class TriesFromSystemProperty implements AroundPropertyHook {
        @Override
        public PropertyExecutionResult aroundProperty(PropertyLifecycleContext context, PropertyExecutor property) {
            context.attributes().setTries(Integer.getInteger(TRIES_PROPERTY, DEFAULT_TRIES));
            return property.execute();
        }
    }

    // ------------------------------------------------------------------ fixed scenarios

    /**
     * Client 0 becomes prop_a; client 1, on the one pool backend after it, must still be postgres, and
     * client 0 must stay prop_a when it runs again.
     */
    @Example
    void sessionAuthorizationStaysWithTheClientThatSetIt() throws Exception {
        Scenario s = fixed(List.of(
                        List.of("SET SESSION AUTHORIZATION prop_a", "SELECT current_user, session_user"),
                        List.of("SELECT current_user, session_user")),
                0, 1, 0);
        List<Answer> direct = run(s, pg.port(), null);
        // What the scenario means, on PostgreSQL itself:
        assertEquals(List.of("D current_user = 'postgres'", "D session_user = 'postgres'"), rows(direct.get(s.programs().size() + 1)));
        assertEquals(List.of("D current_user = 'prop_a'", "D session_user = 'prop_a'"), rows(direct.get(s.programs().size() + 2)));
        assertProxiedSame(s, 1, direct);
    }

    /** The same for SET ROLE, which changes current_user only. */
    @Example
    void roleStaysWithTheClientThatSetIt() throws Exception {
        Scenario s = fixed(List.of(
                        List.of("SET ROLE prop_b", "SELECT current_user, session_user"),
                        List.of("SELECT current_user, session_user")),
                0, 1, 0);
        List<Answer> direct = run(s, pg.port(), null);
        assertEquals(List.of("D current_user = 'postgres'", "D session_user = 'postgres'"), rows(direct.get(s.programs().size() + 1)));
        assertEquals(List.of("D current_user = 'prop_b'", "D session_user = 'postgres'"), rows(direct.get(s.programs().size() + 2)));
        assertProxiedSame(s, 1, direct);
    }

    /**
     * {@code SET datestyle TO dmy} sets only the order, here to the one client 0 already has, so its
     * DateStyle stays SQL, DMY, also after client 1's ISO, MDY was on the backend in between.
     */
    @Example
    void aPartialDateStyleKeepsTheClientsOwnOtherHalf() throws Exception {
        Scenario s = fixed(List.of(
                        List.of("SET DateStyle TO 'SQL, DMY'", "SET datestyle TO dmy", "SHOW DateStyle"),
                        List.of("SHOW DateStyle")),
                0, 0, 1, 0);
        List<Answer> direct = run(s, pg.port(), null);
        assertEquals(List.of("D DateStyle = 'SQL, DMY'"), rows(direct.get(s.programs().size() + 3)));
        assertProxiedSame(s, 1, direct);
    }

    /** Programs of plain statements in the given turn order; each client ends with a snapshot. */
    private static Scenario fixed(List<List<String>> statements, Integer... turns) {
        List<Program> programs = new ArrayList<>();
        List<Integer> order = new ArrayList<>(List.of(turns));
        for (int c = 0; c < statements.size(); c++) {
            List<Step> steps = new ArrayList<>(statements.get(c).stream().map(Step::of).toList());
            steps.add(Step.of(SNAPSHOT));
            programs.add(new Program(Map.of("application_name", "client" + c), steps));
            order.add(c);
        }
        return new Scenario(programs, order);
    }

    // ------------------------------------------------------------------ running and comparing

    /**
     * What one step gave: the answer's messages (an error or warning by its SQLSTATE alone), and every
     * parameter the client has been told by then. For a login, no messages.
     */
    record Answer(List<String> messages, Map<String, String> reported) {
    }

    /** Runs the scenario through a proxy with a pool of {@code poolSize}; fails at the first answer not {@code expected}. */
    private static void assertProxiedSame(Scenario s, int poolSize, List<Answer> expected) throws Exception {
        List<Answer> actual;
        try (ProxyFixture proxy = ProxyFixture.start(proxyConfig(poolSize))) {
            actual = run(s, proxy.port(), expected);
        }
        for (int i = 0; i < actual.size(); i++) {
            if (!actual.get(i).equals(expected.get(i))) {
                throw new AssertionError(report(s, expected, actual, i));
            }
        }
        assertEquals(expected.size(), actual.size(), "steps run through the proxy");
    }

    /**
     * Runs the scenario against {@code port}: first every client logs in (one entry each in the result),
     * then the steps in turn order, each client on its own thread. With {@code expected}, it stops at the
     * first answer that differs; a step that fails (the connection closed, no answer in time) gives an
     * answer naming the failure and ends the run.
     */
    private static List<Answer> run(Scenario s, int port, List<Answer> expected) throws Exception {
        int n = s.programs().size();
        List<ExecutorService> threads = IntStream.range(0, n)
                .mapToObj(c -> Executors.newSingleThreadExecutor(Thread.ofVirtual().name("client" + c).factory())).toList();
        List<Client> clients = new ArrayList<>(Collections.nCopies(n, null));
        List<Answer> answers = new ArrayList<>();
        try {
            for (int c = 0; c < n; c++) {
                int me = c;
                Answer a = onThread(threads.get(c), () -> {
                    clients.set(me, Client.login(port, s.programs().get(me).startup()));
                    return new Answer(List.of(), new TreeMap<>(clients.get(me).reported));
                }, expected == null);
                answers.add(a);
                if (clients.get(c) == null || (expected != null && !a.equals(expected.get(answers.size() - 1)))) {
                    return answers;
                }
            }
            for (int i = 0; i < s.order().size(); i++) {
                Client client = clients.get(s.order().get(i));
                String sql = s.step(i).sql();
                Answer a = onThread(threads.get(s.order().get(i)), () -> client.exchange(sql), expected == null);
                answers.add(a);
                if (expected != null && !a.equals(expected.get(answers.size() - 1))) {
                    return answers;
                }
            }
            return answers;
        } finally {
            for (int c = 0; c < n; c++) {
                Client client = clients.get(c);
                if (client != null) {
                    client.wire.close();
                }
                threads.get(c).shutdownNow();
            }
        }
    }

    private interface Work {
        Answer run() throws Exception;
    }

    /** A failure on the direct connection is the test's own problem and throws; through the proxy it is an answer. */
    private static Answer onThread(ExecutorService thread, Work work, boolean direct) throws Exception {
        try {
            return thread.submit(work::run).get(READ_TIMEOUT.toSeconds() * 3, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            if (direct) {
                throw new IllegalStateException("the direct run failed: " + cause, cause);
            }
            String what = cause instanceof SocketTimeoutException ? "no answer within " + READ_TIMEOUT.toSeconds() + " s"
                    : cause instanceof EOFException ? "connection closed" : cause.toString();
            return new Answer(List.of("failed: " + what), Map.of());
        }
    }

    /** One client's connection, and the parameters it has been told of so far. */
    private static final class Client {
        final PgWire wire;
        final Map<String, String> reported = new TreeMap<>();

        private Client(PgWire wire) {
            this.wire = wire;
        }

        static Client login(int port, Map<String, String> startup) throws IOException {
            Map<String, String> params = new LinkedHashMap<>();
            params.put("user", LOGIN);
            params.put("database", pg.db());
            params.putAll(startup);
            PgWire wire = PgWire.connect(port, READ_TIMEOUT);
            Client c = new Client(wire);
            try {
                wire.write(PgWire.startupMessage(PgWire.PROTOCOL_3_0, params));
                for (PgWire.Message m : wire.readUntilReady()) {
                    c.observe(m);
                }
            } catch (IOException e) {
                wire.close();
                throw e;
            }
            return c;
        }

        private boolean observe(PgWire.Message m) {
            if (m.tag() != 'S') {
                return false;
            }
            ByteBuffer b = m.buffer();
            reported.put(PgWire.cstring(b), PgWire.cstring(b));
            return true;
        }

        /**
         * A row is one message per column, {@code D name = 'value'}: a difference then names its column.
         * The row description is left out, since every query here returns text columns.
         */
        Answer exchange(String sql) throws IOException {
            wire.write(PgWire.query(sql));
            List<String> got = new ArrayList<>();
            List<String> columns = List.of();
            while (true) {
                PgWire.Message m = wire.readMessage();
                if (m == null) {
                    throw new EOFException("closed after " + got);
                }
                if (observe(m)) {
                    continue;
                }
                switch (m.tag()) {
                    case 'T' -> columns = columnNames(m.buffer());
                    case 'D' -> got.addAll(row(m.buffer(), columns));
                    case 'E', 'N' -> got.add(m.tag() + " " + PgWire.fields(m.body()).get('C'));
                    default -> got.add(ExtendedProtocol.reduce(m).toString());
                }
                if (m.tag() == 'Z') {
                    return new Answer(got, new TreeMap<>(reported));
                }
            }
        }

        private static List<String> columnNames(ByteBuffer b) {
            List<String> names = new ArrayList<>();
            for (int i = b.getShort(); i > 0; i--) {
                names.add(PgWire.cstring(b));
                b.position(b.position() + 18); // table, column, type, size, modifier, format
            }
            return names;
        }

        private static List<String> row(ByteBuffer b, List<String> columns) {
            List<String> values = new ArrayList<>();
            for (int i = 0, n = b.getShort(); i < n; i++) {
                int len = b.getInt();
                String value = "NULL";
                if (len >= 0) {
                    byte[] v = new byte[len];
                    b.get(v);
                    value = "'" + new String(v, StandardCharsets.UTF_8) + "'";
                }
                values.add("D " + (i < columns.size() ? columns.get(i) : "?") + " = " + value);
            }
            return values;
        }
    }

    private static List<String> rows(Answer a) {
        return a.messages().stream().filter(m -> m.startsWith("D ")).toList();
    }

    /** The scenario up to the first difference, with what the direct connections answered, then the difference. */
    private static String report(Scenario s, List<Answer> expected, List<Answer> actual, int at) {
        int n = s.programs().size();
        StringBuilder b = new StringBuilder("a client saw through the proxy what a direct connection does not show it\n");
        for (int c = 0; c < n; c++) {
            b.append("  client ").append(c).append(" logs in as ").append(LOGIN).append(" with ").append(s.programs().get(c).startup()).append('\n');
        }
        Function<Integer, String> what = i -> i < n ? "client " + i + " login"
                : "client " + s.order().get(i - n) + ": " + shown(s.step(i - n).sql());
        for (int i = n; i < at; i++) {
            b.append(String.format("  #%-3d %s  -> %s%n", i - n, what.apply(i), brief(expected.get(i))));
        }
        b.append("first difference at ").append(at < n ? "" : "#" + (at - n) + " ").append(what.apply(at)).append('\n');
        Answer want = expected.get(at);
        Answer got = actual.get(at);
        if (want.messages().size() == got.messages().size()) {
            for (int i = 0; i < want.messages().size(); i++) {
                if (!want.messages().get(i).equals(got.messages().get(i))) {
                    b.append("  direct:  ").append(want.messages().get(i)).append('\n');
                    b.append("  proxied: ").append(got.messages().get(i)).append('\n');
                }
            }
        } else {
            b.append("  direct:  ").append(want.messages()).append('\n');
            b.append("  proxied: ").append(got.messages()).append('\n');
        }
        if (!want.reported().equals(got.reported())) {
            TreeSet<String> names = new TreeSet<>(want.reported().keySet());
            names.addAll(got.reported().keySet());
            for (String name : names) {
                String w = want.reported().get(name);
                String g = got.reported().get(name);
                if (!Objects.equals(w, g)) {
                    b.append("  ParameterStatus ").append(name).append(": direct ").append(w == null ? "never" : "'" + w + "'")
                            .append(", proxied ").append(g == null ? "never" : "'" + g + "'").append('\n');
                }
            }
        }
        b.append("  (").append(expected.size() - at - 1).append(" later steps not compared)\n");
        return b.toString();
    }

    /** An answer without column names and an idle ReadyForQuery, which say little here. */
    private static String brief(Answer a) {
        return a.messages().stream().filter(m -> !m.equals("Z I"))
                .map(m -> m.startsWith("D ") ? m.substring(m.indexOf(" = ") + 3) : m).collect(Collectors.joining(", "));
    }
}
