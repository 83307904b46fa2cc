package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.it.ExtendedProtocol.Be;
import io.pgproxy.it.ExtendedProtocol.Fe;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static io.pgproxy.it.ExtendedProtocol.INT4;
import static io.pgproxy.it.ExtendedProtocol.TEXT;

/**
 * Generated protocol interleavings: several clients run random programs of extended-query batches (Parse,
 * Bind, Describe, Execute, Close and simple queries, each batch ending in Sync or Flush) concurrently
 * through the proxy in transaction mode over two backends that keep at most three statements each, so
 * clients change backends between batches and statements are evicted. Each client must get exactly what
 * the same program gets alone on a direct PostgreSQL connection.
 *
 * <p>The queries are pure expressions, so a program's answers do not depend on other clients.
 */
class PreparedStatementsPropertyIT {
    /** Long enough for a client to wait its turn for one of the two backends, short enough to fail a withheld answer. */
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(10);

    private static PostgresFixture pg;

    @BeforeContainer
    static void startPostgres() {
        pg = SharedPostgres.database(PreparedStatementsPropertyIT.class);
    }

    @AfterContainer
    static void stopPostgres() {
        if (pg != null) {
            pg.close();
        }
    }

    // ------------------------------------------------------------------ the vocabulary

    private enum Param { INT, TEXT }

    /** A query text with its parameters; one of them fails for a parameter of 0 (division by zero). */
    private record Text(String sql, Param... params) {
        int[] types() {
            return Arrays.stream(params).mapToInt(p -> p == Param.INT ? INT4 : TEXT).toArray();
        }
    }

    private static final List<Text> TEXTS = List.of(
            new Text("select 1 as one"),
            new Text("select $1::int + 1 as next", Param.INT),
            new Text("select 1 / $1::int as quotient", Param.INT),
            new Text("select $1::text || $2::text as joined, 2 as two", Param.TEXT, Param.TEXT),
            new Text("select g from generate_series(1, $1::int) g", Param.INT),
            new Text("select * from (values (1, 'a'), (2, 'b')) v(n, s)"));

    /** Statement names: index 0 is the unnamed statement, the last is one no client ever parses. */
    private static final List<String> STATEMENTS = List.of("", "s1", "s2", "s3", "s4", "nope");
    private static final List<String> PORTALS = List.of("", "p1", "p2");
    private static final List<String> QUERIES = List.of("BEGIN", "COMMIT", "ROLLBACK", "select 1", "DEALLOCATE ALL");
    private static final List<String> INT_VALUES = Arrays.asList("0", "1", "2", "3", null);
    private static final List<String> TEXT_VALUES = Arrays.asList("a", "bc", null);

    // ------------------------------------------------------------------ generated operations

    /** What the generator draws; {@link Program#compile} turns it into messages that respect the rules below. */
    sealed interface Op {
    }

    /** {@code closeFirst}: when the client believes the name is taken, it closes it before parsing again. */
    record ParseOp(int name, int text, boolean typed, boolean closeFirst) implements Op {
    }

    record BindOp(int portal, int statement, int values, boolean extraParameter) implements Op {
    }

    record ExecuteOp(int portal, int maxRows) implements Op {
    }

    /** Bind followed by Execute of the same portal: the common case, so that most batches get results. */
    record BindExecuteOp(int portal, int statement, int values, int maxRows) implements Op {
    }

    record DescribeOp(boolean statement, int name) implements Op {
    }

    record CloseOp(boolean statement, int name) implements Op {
    }

    record QueryOp(int query) implements Op {
    }

    /** DEALLOCATE ALL the way drivers send every statement: Parse, Bind, Execute of the unnamed statement. */
    record ExtendedDeallocateOp() implements Op {
    }

    record BatchOp(List<Op> ops, boolean flush) {
    }

    @Provide
    Arbitrary<List<List<BatchOp>>> programs() {
        Arbitrary<Integer> statement = Arbitraries.frequency(
                Tuple.of(2, 0), Tuple.of(3, 1), Tuple.of(3, 2), Tuple.of(3, 3), Tuple.of(3, 4), Tuple.of(1, 5));
        Arbitrary<Integer> parseName = Arbitraries.integers().between(0, 4);
        Arbitrary<Integer> portal = Arbitraries.integers().between(0, PORTALS.size() - 1);
        Arbitrary<Integer> text = Arbitraries.integers().between(0, TEXTS.size() - 1);
        Arbitrary<Integer> values = Arbitraries.integers().between(0, 999);
        Arbitrary<Integer> maxRows = Arbitraries.frequency(Tuple.of(6, 0), Tuple.of(2, 1), Tuple.of(1, 2));
        Arbitrary<Integer> query = Arbitraries.frequency(
                Tuple.of(3, 0), Tuple.of(2, 1), Tuple.of(2, 2), Tuple.of(2, 3), Tuple.of(1, 4));
        Arbitrary<Boolean> rarely = Arbitraries.integers().between(0, 9).map(i -> i == 0);

        Arbitrary<Op> op = Arbitraries.frequencyOf(
                Tuple.of(5, Combinators.combine(parseName, text, Arbitraries.of(true, false), rarely.map(r -> !r)).as(ParseOp::new)),
                Tuple.of(6, Combinators.combine(portal, statement, values, maxRows).as(BindExecuteOp::new)),
                Tuple.of(2, Combinators.combine(portal, statement, values, rarely).as(BindOp::new)),
                Tuple.of(2, Combinators.combine(portal, maxRows).as(ExecuteOp::new)),
                Tuple.of(2, Combinators.combine(Arbitraries.of(true, false), statement).as(DescribeOp::new)),
                Tuple.of(2, Combinators.combine(Arbitraries.of(true, false), statement).as(CloseOp::new)),
                Tuple.of(1, query.map(QueryOp::new)),
                Tuple.of(1, Arbitraries.just(new ExtendedDeallocateOp())));
        Arbitrary<BatchOp> batch = Combinators.combine(
                op.list().ofMinSize(1).ofMaxSize(6),
                Arbitraries.integers().between(0, 3).map(i -> i == 0)).as(BatchOp::new);
        return batch.list().ofMinSize(1).ofMaxSize(6).list().ofMinSize(3).ofMaxSize(6);
    }

    /**
     * One client's messages, batch by batch. The generator's raw choices are adjusted so that a correct
     * proxy must answer exactly as PostgreSQL does: in transaction mode only the unnamed statement may
     * legitimately be lost when the client changes backends, so the unnamed statement is used only after
     * it was parsed since the last Sync or simple Query (that is, on the same backend); otherwise the
     * operation uses s1. Bind supplies the parameters of the text last parsed under the name (which may be
     * wrong after an error, as a real client's would be). A Bind with one parameter too many is not drawn
     * inside a transaction block: if that block failed and the backend lacks the statement, pgproxy answers
     * 25P02 where PostgreSQL says 08P01, a difference the README documents.
     */
    record Program(List<List<Fe>> batches) {
        static Program compile(List<BatchOp> ops) {
            Map<String, Text> parsed = new HashMap<>();
            boolean unnamedUsable = false;
            boolean inBlock = false;
            List<List<Fe>> batches = new ArrayList<>();
            for (BatchOp b : ops) {
                List<Fe> batch = new ArrayList<>();
                for (Op op : b.ops()) {
                    switch (op) {
                        case ParseOp p -> {
                            String name = STATEMENTS.get(p.name());
                            Text t = TEXTS.get(p.text());
                            if (!name.isEmpty() && parsed.containsKey(name) && p.closeFirst()) {
                                batch.add(ExtendedProtocol.closeStatement(name));
                            }
                            batch.add(p.typed() ? ExtendedProtocol.parse(name, t.sql(), t.types()) : ExtendedProtocol.parse(name, t.sql()));
                            if (name.isEmpty()) {
                                // the unnamed statement is replaced by every Parse, a named one is a duplicate (42P05)
                                unnamedUsable = true;
                                parsed.put(name, t);
                            } else if (p.closeFirst()) {
                                parsed.put(name, t);
                            } else {
                                parsed.putIfAbsent(name, t);
                            }
                        }
                        case BindOp bo -> batch.add(bind(bo.portal(), usable(bo.statement(), unnamedUsable, parsed), bo.values(),
                                bo.extraParameter() && !inBlock, parsed));
                        case BindExecuteOp be -> {
                            batch.add(bind(be.portal(), usable(be.statement(), unnamedUsable, parsed), be.values(), false, parsed));
                            batch.add(ExtendedProtocol.execute(PORTALS.get(be.portal()), be.maxRows()));
                        }
                        case ExecuteOp e -> batch.add(ExtendedProtocol.execute(PORTALS.get(e.portal()), e.maxRows()));
                        case DescribeOp d -> batch.add(d.statement()
                                ? ExtendedProtocol.describeStatement(usable(d.name(), unnamedUsable, parsed))
                                : ExtendedProtocol.describePortal(PORTALS.get(d.name() % PORTALS.size())));
                        case CloseOp c -> {
                            if (c.statement()) {
                                String name = STATEMENTS.get(c.name());
                                batch.add(ExtendedProtocol.closeStatement(name));
                                parsed.remove(name);
                            } else {
                                batch.add(ExtendedProtocol.closePortal(PORTALS.get(c.name() % PORTALS.size())));
                            }
                        }
                        case ExtendedDeallocateOp d -> {
                            batch.add(ExtendedProtocol.parse("", "DEALLOCATE ALL"));
                            batch.add(ExtendedProtocol.bind("", ""));
                            batch.add(ExtendedProtocol.execute("", 0));
                            // The unnamed statement now holds this text: not one of TEXTS, so not reused.
                            unnamedUsable = false;
                            parsed.remove("");
                            parsed.keySet().removeIf(n -> !n.isEmpty());
                        }
                        case QueryOp q -> {
                            String sql = QUERIES.get(q.query());
                            batch.add(ExtendedProtocol.query(sql));
                            if (sql.equals("BEGIN")) {
                                inBlock = true;
                            } else if (sql.equals("COMMIT") || sql.equals("ROLLBACK")) {
                                inBlock = false;
                            }
                            unnamedUsable = false;
                            if (sql.equals("DEALLOCATE ALL")) {
                                parsed.keySet().removeIf(n -> !n.isEmpty());
                            }
                        }
                    }
                }
                batch.add(b.flush() ? ExtendedProtocol.flush() : ExtendedProtocol.sync());
                if (!b.flush()) {
                    unnamedUsable = false;
                }
                batches.add(batch);
            }
            // A last Sync: a Flush batch at the end is answered in full, and anything extra would show.
            batches.add(List.of(ExtendedProtocol.sync()));
            return new Program(batches);
        }

        /**
         * The drawn statement if the client may use it; otherwise, so that most batches get past their Bind,
         * one of the names it believes parsed; "nope" stays as it is.
         */
        private static String usable(int statement, boolean unnamedUsable, Map<String, Text> parsed) {
            String name = STATEMENTS.get(statement);
            if (name.equals("nope") || (name.isEmpty() ? unnamedUsable : parsed.containsKey(name))) {
                return name;
            }
            List<String> known = parsed.keySet().stream().filter(n -> !n.isEmpty()).sorted().toList();
            return known.isEmpty() ? "s1" : known.get(statement % known.size());
        }

        private static Fe bind(int portal, String statement, int values, boolean extraParameter, Map<String, Text> parsed) {
            // A name the client does not know (as far as it can tell) gets one int: the backend answers 26000 anyway.
            Param[] params = parsed.containsKey(statement) ? parsed.get(statement).params() : new Param[]{Param.INT};
            List<String> v = new ArrayList<>();
            int seed = values;
            for (Param p : params) {
                List<String> choices = p == Param.INT ? INT_VALUES : TEXT_VALUES;
                v.add(choices.get(seed % choices.size()));
                seed /= choices.size();
            }
            if (extraParameter) {
                v.add("1");
            }
            return ExtendedProtocol.bind(PORTALS.get(portal), statement, v.toArray(String[]::new));
        }

        String describe() {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < batches.size(); i++) {
                b.append("    batch ").append(i).append(": ").append(batches.get(i)).append('\n');
            }
            return b.toString();
        }
    }

    // ------------------------------------------------------------------ the property

    /** What one client got through the proxy, up to the first batch that differs from the direct run. */
    record Outcome(int client, int batch, List<Be> expected, List<Be> actual, String problem) {
        boolean ok() {
            return problem == null;
        }
    }

    /** About 10 s for 40 tries; BOUNDED stops shrinking after jqwik's default of 10 s. */
    @Property(tries = 60, shrinking = ShrinkingMode.BOUNDED)
    void everyClientGetsWhatADirectConnectionGets(@ForAll("programs") List<List<BatchOp>> raw) throws Exception {
        List<Program> programs = raw.stream().map(Program::compile).toList();
        List<List<List<Be>>> expected = runConcurrently(programs.size(), c -> direct(programs.get(c)));
        // Shown in the report: which errors the programs reach, and that most batches still get results.
        Statistics.label("errors in the expected answers").collect(expected.stream().flatMap(List::stream).flatMap(List::stream)
                .filter(m -> m.tag() == 'E').map(Be::detail).distinct().sorted().toList().toString());
        List<List<Be>> batches = expected.stream().flatMap(List::stream).toList();
        long clean = batches.stream().filter(b -> b.stream().noneMatch(m -> m.tag() == 'E')).count();
        Statistics.label("batches without an error").collect(clean * 4 / batches.size() * 25 + "%+");

        List<Outcome> outcomes;
        try (ProxyFixture proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + """
                pgproxy.pool.mode = transaction
                pgproxy.pool.size = 2
                pgproxy.pool.max-prepared-statements = 3
                """)) {
            outcomes = runConcurrently(programs.size(), c -> proxied(proxy, c, programs.get(c), expected.get(c)));
        }
        List<Outcome> failed = outcomes.stream().filter(o -> !o.ok()).toList();
        if (!failed.isEmpty()) {
            StringBuilder report = new StringBuilder(failed.size() + " of " + programs.size()
                    + " clients got answers a direct connection does not give\n");
            // Timeouts are often a consequence of another client's failure holding a backend: real differences first.
            failed.stream().sorted(Comparator.comparing(o -> o.problem().startsWith("timed out")))
                    .forEach(o -> report.append(explain(o, programs.get(o.client()))));
            report.append("all programs:\n");
            for (int c = 0; c < programs.size(); c++) {
                report.append("  client ").append(c).append(":\n").append(programs.get(c).describe());
            }
            throw new AssertionError(report.toString());
        }
    }

    private static String explain(Outcome o, Program p) {
        int at = ExtendedProtocol.firstDifference(o.expected(), o.actual());
        return "client " + o.client() + ", batch " + o.batch() + " " + p.batches().get(o.batch()) + ": " + o.problem()
                + (at >= 0 ? "\n    first difference at message " + at + ": expected "
                + (at < o.expected().size() ? o.expected().get(at) : "nothing") + ", got "
                + (at < o.actual().size() ? o.actual().get(at) : "nothing") : "")
                + "\n    expected " + o.expected() + "\n    actual   " + o.actual() + "\n";
    }

    private static List<List<Be>> direct(Program p) throws IOException {
        try (PgWire wire = PgWire.connect(pg.port(), READ_TIMEOUT)) {
            wire.loginTrust(PostgresFixture.TRUST_USER, pg.db());
            ExtendedProtocol.Conversation conversation = new ExtendedProtocol.Conversation(wire);
            List<List<Be>> answers = new ArrayList<>();
            for (List<Fe> batch : p.batches()) {
                try {
                    answers.add(conversation.exchange(batch));
                } catch (IOException e) {
                    throw new IOException("the direct run of batch " + answers.size() + " failed: " + e.getMessage()
                            + "\n" + p.describe(), e);
                }
            }
            return answers;
        }
    }

    /**
     * Runs the program through the proxy and stops at the first batch that differs. A Sync batch is read
     * up to its last ReadyForQuery; a Flush batch has none, so exactly as many messages as the direct run
     * gave are read, and a withheld answer runs into the read timeout.
     */
    private static Outcome proxied(ProxyFixture proxy, int client, Program p, List<List<Be>> expected) throws IOException {
        try (PgWire wire = PgWire.connect(proxy.port(), READ_TIMEOUT)) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "app_trust");
            for (int i = 0; i < p.batches().size(); i++) {
                List<Fe> batch = p.batches().get(i);
                List<Be> want = expected.get(i);
                wire.write(batch.stream().map(Fe::bytes).toArray(byte[][]::new));
                List<Be> got = new ArrayList<>();
                boolean sync = batch.getLast().tag() == 'S';
                long readies = want.stream().filter(m -> m.tag() == 'Z').count();
                try {
                    while (sync ? got.stream().filter(m -> m.tag() == 'Z').count() < readies : got.size() < want.size()) {
                        got.addAll(ExtendedProtocol.read(wire, 1));
                    }
                } catch (IOException e) {
                    return new Outcome(client, i, want, got,
                            (e instanceof SocketTimeoutException ? "timed out: " : "read failed: ") + e.getMessage());
                }
                if (!got.equals(want)) {
                    return new Outcome(client, i, want, got, "different answer");
                }
            }
            return new Outcome(client, -1, List.of(), List.of(), null);
        }
    }

    private interface PerClient<T> {
        T run(int client) throws Exception;
    }

    private static <T> List<T> runConcurrently(int clients, PerClient<T> work) throws Exception {
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<T>> futures = IntStream.range(0, clients).mapToObj(c -> ex.submit(() -> work.run(c))).toList();
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(60, TimeUnit.SECONDS));
            }
            return results;
        }
    }
}
