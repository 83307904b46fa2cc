package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.it.ExtendedProtocol.Be;
import io.pgproxy.it.ExtendedProtocol.Conversation;
import io.pgproxy.it.ExtendedProtocol.Fe;
import io.pgproxy.pool.Pool;
import io.pgproxy.session.StatementCounters;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static io.pgproxy.it.ExtendedProtocol.INT4;
import static io.pgproxy.it.ExtendedProtocol.bind;
import static io.pgproxy.it.ExtendedProtocol.closeStatement;
import static io.pgproxy.it.ExtendedProtocol.describePortal;
import static io.pgproxy.it.ExtendedProtocol.describeStatement;
import static io.pgproxy.it.ExtendedProtocol.execute;
import static io.pgproxy.it.ExtendedProtocol.flush;
import static io.pgproxy.it.ExtendedProtocol.parse;
import static io.pgproxy.it.ExtendedProtocol.query;
import static io.pgproxy.it.ExtendedProtocol.sync;
import static io.pgproxy.it.ExtendedProtocol.tags;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Protocol-level named prepared statements in transaction pooling mode (issue 5): a client's statements
 * follow it from backend to backend. Raw-wire scenarios run the same bytes on a direct PostgreSQL
 * connection and through the proxy and require the same answers; where a scenario needs the client on a
 * backend that never saw its statement, other clients hold the backends in open transactions.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class PreparedStatementsIT {
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(10);

    private static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) throws SQLException {
        pg = database;
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE batched (client int NOT NULL, n int NOT NULL)");
            s.execute("GRANT ALL ON batched TO trust_user");
        }
    }

    private static ProxyFixture proxy(String overrides) {
        return ProxyFixture.startTransactionPooling(pg, overrides);
    }

    private static Pool pool(ProxyFixture proxy) {
        return proxy.pool("app_trust");
    }

    /** pgjdbc through the proxy; prepareThreshold=0 keeps a helper client from naming statements of its own. */
    private static Connection jdbc(ProxyFixture proxy, int prepareThreshold) throws SQLException {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", String.valueOf(prepareThreshold));
        return proxy.connect(PostgresFixture.TRUST_USER, null, "app_trust", p);
    }

    /** A pgjdbc client inside a transaction: it holds its backend until rollback. */
    private static Connection holder(ProxyFixture proxy) throws SQLException {
        Connection c = jdbc(proxy, 0);
        c.setAutoCommit(false);
        return c;
    }

    private static int backendPid(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** A raw-wire client of the proxy (no comparison), closed with its socket. */
    private static Conversation client(ProxyFixture proxy) throws IOException {
        PgWire w = PgWire.connect(proxy.port(), READ_TIMEOUT);
        w.loginTrust(PostgresFixture.TRUST_USER, "app_trust");
        return new Conversation(w);
    }

    /**
     * The same client twice: once straight to PostgreSQL, once through the proxy. {@link #same} sends a
     * batch to both and requires the same answer.
     */
    private record Twin(Conversation direct, Conversation proxied) implements AutoCloseable {
        static Twin open(ProxyFixture proxy) throws IOException {
            PgWire d = PgWire.connect(pg.port(), READ_TIMEOUT);
            d.loginTrust(PostgresFixture.TRUST_USER, pg.db());
            return new Twin(new Conversation(d), client(proxy));
        }

        List<Be> same(Fe... batch) throws IOException {
            List<Fe> messages = List.of(batch);
            List<Be> expected = direct.exchange(messages);
            List<Be> actual = proxied.exchange(messages);
            assertEquals(expected, actual, () -> "answers to " + messages);
            return actual;
        }

        @Override
        public void close() throws IOException {
            try (direct; proxied) {
                // both closed
            }
        }
    }

    /** The text of the single column of each DataRow, e.g. ['new']. */
    private static List<String> rows(List<Be> answer) {
        return answer.stream().filter(m -> m.tag() == 'D').map(Be::detail).toList();
    }

    private static String sqlStates(List<Be> answer) {
        return answer.stream().filter(m -> m.tag() == 'E').map(Be::detail).collect(Collectors.joining(","));
    }

    // ------------------------------------------------------------------ real clients

    @Test
    void pgjdbcBatchInsertsFromTwoHundredClientsOverFiveBackendsArriveExactlyOnce() throws Exception {
        int clients = 200;
        int batches = 4;
        int perBatch = 10;
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 5\n");
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int me = i;
                futures.add(pool.submit(() -> {
                    // prepareThreshold=1: pgjdbc names its statements from the first execution on.
                    try (Connection c = jdbc(proxy, 1);
                         PreparedStatement insert = c.prepareStatement("INSERT INTO batched (client, n) VALUES (?, ?)");
                         PreparedStatement mine = c.prepareStatement("SELECT count(*) FROM batched WHERE client = ?")) {
                        for (int b = 0; b < batches; b++) {
                            for (int k = 0; k < perBatch; k++) {
                                insert.setInt(1, me);
                                insert.setInt(2, b * perBatch + k);
                                insert.addBatch();
                            }
                            int[] counts = insert.executeBatch();
                            assertEquals(perBatch, Arrays.stream(counts).filter(n -> n == 1).count());
                            // Each autocommitted batch may have run on another backend than the one before.
                            mine.setInt(1, me);
                            try (ResultSet rs = mine.executeQuery()) {
                                rs.next();
                                assertEquals((b + 1) * perBatch, rs.getInt(1), "client " + me + " sees its own rows");
                            }
                        }
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(4, TimeUnit.MINUTES);
            }
        }
        assertTrue(failures.isEmpty(), () -> failures.size() + " clients failed, e.g. " + failures.peek());
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*), count(DISTINCT (client, n)), count(DISTINCT client) FROM batched")) {
            rs.next();
            assertEquals(clients * batches * perBatch, rs.getInt(1), "rows");
            assertEquals(clients * batches * perBatch, rs.getInt(2), "no row twice");
            assertEquals(clients, rs.getInt(3), "every client");
        }
    }

    @Test
    void pgbenchPreparedModeHundredClientsOverFiveBackends() throws Exception {
        Path pgbench = pgbench();
        Assumptions.assumeTrue(pgbench != null, "pgbench not installed");
        // The tables are set up on PostgreSQL directly: only the benchmark itself is under test.
        String direct = "host=" + pg.host() + " port=" + pg.port() + " dbname=" + pg.db()
                + " user=trust_user sslmode=disable";
        Result init = run(pgbench.toString(), "-i", "-s", "1", "-q", direct);
        assertEquals(0, init.exitCode(), init.output());
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 5\n")) {
            String conn = "host=127.0.0.1 port=" + proxy.port() + " dbname=app_trust user=trust_user sslmode=disable";
            Result r = run(pgbench.toString(), "-n", "-c", "100", "-j", "2", "-T", "3", "-M", "prepared", conn);
            // An aborted client still leaves "failed transactions: 0" in the summary: the exit code tells.
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().contains("number of failed transactions: 0"), r.output());
            Matcher processed = Pattern.compile("number of transactions actually processed: (\\d+)").matcher(r.output());
            assertTrue(processed.find() && Long.parseLong(processed.group(1)) > 0, r.output());
        }
    }

    /** pgbench from the PostgreSQL client tools ({@code pg_config --bindir}), else from the PATH's usual place. */
    private static Path pgbench() {
        try {
            Result bindir = run("pg_config", "--bindir");
            Path p = Path.of(bindir.output().trim(), "pgbench");
            if (bindir.exitCode() == 0 && Files.isExecutable(p)) {
                return p;
            }
        } catch (Exception e) {
            // no pg_config: fall through
        }
        Path usual = Path.of("/usr/bin/pgbench");
        return Files.isExecutable(usual) ? usual : null;
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(2, TimeUnit.MINUTES));
        return new Result(p.exitValue(), out);
    }

    // ------------------------------------------------------------------ raw wire, compared with PostgreSQL

    private static final String DOUBLED = "select $1::int * 2 as doubled";
    private static final String QUOTIENT = "select 1 / $1::int as quotient";
    private static final String SERIES = "select g from generate_series(1, $1::int) g";

    @Test
    void aPipelineWithAnErrorInTheMiddleAnswersAsPostgresDoes() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Twin a = Twin.open(proxy);
             Connection h1 = holder(proxy); Connection h2 = holder(proxy)) {
            int first = backendPid(h1);
            // s4's Bind fails: the plan for the bound value folds 1 / 0. The backend skips the rest up to the Sync.
            List<Be> answer = a.same(
                    parse("s1", DOUBLED), bind("", "s1", "1"), execute("", 0),
                    parse("s2", QUOTIENT), bind("", "s2", "2"), execute("", 0),
                    parse("s3", SERIES), bind("", "s3", "3"), execute("", 0),
                    parse("s4", QUOTIENT), bind("", "s4", "0"), execute("", 0),
                    parse("s5", DOUBLED, INT4), bind("", "s5", "5"), execute("", 0),
                    parse("s6", SERIES), bind("", "s6", "2"), execute("", 0),
                    sync());
            assertEquals("12DC12DC12DDDC1EZ", tags(answer));
            assertEquals("22012", sqlStates(answer));

            // The next batches run on the other backend, which saw none of it.
            assertNotEquals(first, backendPid(h2));
            h1.rollback();
            // s4 was parsed before its Bind failed, so it exists.
            for (String name : List.of("s1", "s2", "s3", "s4")) {
                assertEquals("2DCZ", tags(a.same(bind("", name, "1"), execute("", 0), sync())), name);
            }
            for (String name : List.of("s5", "s6")) {
                assertEquals("26000", sqlStates(a.same(bind("", name, "1"), execute("", 0), sync())),
                        name + " was skipped after the error, so it does not exist");
            }
            assertEquals(List.of("['10']"), rows(a.same(parse("s5", DOUBLED, INT4), bind("", "s5", "5"), execute("", 0), sync())));
        }
    }

    @Test
    void describeStatementOnABackendThatNeverSawIt() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Twin a = Twin.open(proxy);
             Connection h1 = holder(proxy); Connection h2 = holder(proxy)) {
            int first = backendPid(h1);
            a.same(parse("total", "select $1::int + $2::int as total"), sync());
            assertNotEquals(first, backendPid(h2), "h2 holds the backend the Parse ran on");
            h1.rollback();
            // Only the first backend is free now: the proxy has to prepare the statement there first.
            List<Be> described = a.same(describeStatement("total"), sync());
            assertEquals("tTZ", tags(described));
            assertEquals("[23, 23]", described.getFirst().detail(), "two int4 parameters");
            assertEquals(List.of("['5']"), rows(a.same(bind("p", "total", "2", "3"), describePortal("p"), execute("p", 0), sync())));
        }
    }

    @Test
    void closeThenParseTheSameNameWithAnotherTextRunsTheNewText() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Twin a = Twin.open(proxy); Conversation b = client(proxy)) {
            a.same(parse("s", "select 'old' as v"), sync());
            // Another client keeps the old text prepared under the same client-side name.
            assertEquals("1Z", tags(b.exchange(List.of(parse("s", "select 'old' as v"), sync()))));
            assertEquals(List.of("['old']"), rows(a.same(bind("", "s"), execute("", 0), sync())));
            assertEquals("3Z", tags(a.same(closeStatement("s"), sync())));
            a.same(parse("s", "select 'new' as v"), sync());
            assertEquals(List.of("['new']"), rows(a.same(bind("", "s"), execute("", 0), sync())));
            // All in one pipeline, back to a text that the backends already know under a proxy name.
            assertEquals(List.of("['old']"), rows(a.same(closeStatement("s"), parse("s", "select 'old' as v"),
                    bind("", "s"), execute("", 0), sync())));
            assertEquals(List.of("['old']"), rows(b.exchange(List.of(bind("", "s"), execute("", 0), sync()))),
                    "the other client's statement is untouched");
        }
    }

    @Test
    void flushWithoutSyncDeliversTheAnswersSoFar() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Twin a = Twin.open(proxy); Conversation b = client(proxy);
             Connection h1 = holder(proxy); Connection h2 = holder(proxy)) {
            // Every exchange below ends in Flush, not Sync: a withheld answer times the read out.
            assertEquals("12DC", tags(a.same(parse("plain", "select 8 as eight"), bind("", "plain"), execute("", 0), flush())));
            assertEquals("Z", tags(a.same(sync())));

            int first = backendPid(h1);
            // b prepares the text on the second backend, so a's Parse of it there is answered by the proxy.
            assertEquals("1Z", tags(b.exchange(List.of(parse("b7", "select 7 as seven"), sync()))));
            assertEquals("1", tags(a.same(parse("a7", "select 7 as seven"), flush())));
            assertEquals("2DC", tags(a.same(bind("", "a7"), execute("", 0), flush())));
            assertEquals("Z", tags(a.same(sync())));

            assertNotEquals(first, backendPid(h2));
            h1.rollback();
            // On the first backend a7 was never prepared: the proxy prepares it unseen, still before any Sync.
            assertEquals("2DC", tags(a.same(bind("", "a7"), execute("", 0), flush())));
            assertEquals("Z", tags(a.same(sync())));
        }
    }

    @Test
    void deallocateAllAndDiscardAllForgetTheClientsStatements() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             Twin a = Twin.open(proxy); Conversation b = client(proxy)) {
            a.same(parse("s1", DOUBLED), parse("s2", QUOTIENT), sync());
            // b shares the one backend and uses the same text: a's reset must not take it from b.
            assertEquals("1Z", tags(b.exchange(List.of(parse("mine", DOUBLED), sync()))));

            a.same(query("DEALLOCATE ALL"));
            assertEquals("26000", sqlStates(a.same(bind("", "s1", "1"), execute("", 0), sync())));
            assertEquals("26000", sqlStates(a.same(describeStatement("s2"), sync())));
            assertEquals(List.of("['4']"), rows(b.exchange(List.of(bind("", "mine", "2"), execute("", 0), sync()))));
            assertEquals("1Z", tags(a.same(parse("s1", DOUBLED), sync())), "the name is free again");

            a.same(query("DISCARD ALL"));
            assertEquals("26000", sqlStates(a.same(bind("", "s1", "1"), execute("", 0), sync())));
            assertEquals(List.of("['6']"), rows(a.same(parse("s1", DOUBLED), bind("", "s1", "3"), execute("", 0), sync())));
            assertEquals(List.of("['8']"), rows(b.exchange(List.of(bind("", "mine", "4"), execute("", 0), sync()))));
        }
    }

    @Test
    void aNameTheClientNeverParsedIsPassedOnAndUnknown() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             Twin a = Twin.open(proxy); Conversation b = client(proxy)) {
            // Another client's name is not this client's, on the same backend or not.
            b.exchange(List.of(parse("theirs", DOUBLED), sync()));
            assertEquals("26000", sqlStates(a.same(bind("", "theirs", "1"), execute("", 0), sync())));
            assertEquals("26000", sqlStates(a.same(describeStatement("never"), sync())));
            assertEquals("3Z", tags(a.same(closeStatement("never"), sync())), "closing an unknown name is no error");
        }
    }

    @Test
    void aDuplicateParseGives42P05AndKeepsTheFirstText() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Twin a = Twin.open(proxy)) {
            a.same(parse("s", "select 'first' as v"), sync());
            assertEquals("42P05", sqlStates(a.same(parse("s", "select 'second' as v"), sync())));
            // The same text again is still a duplicate name.
            assertEquals("42P05", sqlStates(a.same(parse("s", "select 'first' as v"), sync())));
            assertEquals(List.of("['first']"), rows(a.same(bind("", "s"), execute("", 0), sync())));
            assertEquals("1EZ", tags(a.same(parse("t", DOUBLED), parse("t", QUOTIENT), bind("", "t", "1"), execute("", 0), sync())));
            assertEquals(List.of("['2']"), rows(a.same(bind("", "t", "1"), execute("", 0), sync())));
        }
    }

    @Test
    void theUnnamedStatementAndPortalsLastWithinATransactionBlock() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Twin a = Twin.open(proxy); Conversation other = client(proxy)) {
            a.same(query("BEGIN"));
            a.same(parse("", "select $1::int * 3 as tripled"), sync());
            // Traffic from another client in between must not take a's backend.
            other.exchange(List.of(parse("", "select 1"), bind("", ""), execute("", 0), sync()));
            a.same(bind("p", "", "5"), sync());
            assertEquals(List.of("['15']"), rows(a.same(execute("p", 0), sync())));
            assertEquals(List.of("['21']"), rows(a.same(bind("", "", "7"), execute("", 0), sync())));
            a.same(query("COMMIT"));
        }
    }

    @Test
    void twoClientsUseOneNameForDifferentTexts() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             Twin a = Twin.open(proxy); Twin b = Twin.open(proxy)) {
            a.same(parse("s1", "select 'a' as who"), sync());
            b.same(parse("s1", "select 'b' as who"), parse("s2", "select 'a' as who"), sync());
            for (int i = 0; i < 3; i++) {
                assertEquals(List.of("['a']"), rows(a.same(bind("", "s1"), execute("", 0), sync())));
                assertEquals(List.of("['b']"), rows(b.same(bind("", "s1"), execute("", 0), sync())));
                assertEquals(List.of("['a']"), rows(b.same(bind("", "s2"), execute("", 0), sync())));
            }
        }
    }

    // ------------------------------------------------------------------ eviction and counters

    /**
     * Counter and backend-side expectations of issue 5 live here only, so this is the one test to adjust
     * when their definitions change: prepares count statements prepared on a backend (by a client's Parse
     * or unseen before a Bind/Describe), hits a Parse answered because the backend had it, evictions
     * statements dropped from a backend's LRU.
     */
    @Test
    void aParseOfAnAcceptedStatementWithoutABackendIsAnsweredWithoutALease() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             Conversation a = client(proxy); Conversation b = client(proxy)) {
            String text = "select 41 + 1 as answer";
            assertEquals("12DCZ", tags(a.exchange(List.of(parse("a", text), bind("", "a"), execute("", 0), sync()))));
            Pool pool = pool(proxy);
            long leases = pool.acquiredTotal();
            long hits = pool.preparedStatements().hits();

            assertEquals("1Z", tags(b.exchange(List.of(parse("b", text), sync()))));
            assertEquals(leases, pool.acquiredTotal(), "no backend was leased for Parse and Sync");
            assertEquals(hits + 1, pool.preparedStatements().hits());

            assertEquals(List.of("['42']"), rows(b.exchange(List.of(bind("", "b"), execute("", 0), sync()))));
            assertEquals(leases + 1, pool.acquiredTotal());
        }
    }

    @Test
    void usesOfNamesPipelinedAfterADeallocateWaitForItsAnswer() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n"); Twin t = Twin.open(proxy)) {
            t.same(parse("s1", DOUBLED), sync());
            // Not a deallocation, though its text says "discard": s1 still exists afterwards.
            List<Be> kept = t.same(query("select 'discard nothing' as note"), bind("", "s1", "4"), execute("", 0), sync());
            assertEquals("['8']", rows(kept).getLast());
            List<Be> gone = t.same(query("DEALLOCATE ALL"), bind("", "s1", "4"), execute("", 0), sync());
            assertEquals("26000", sqlStates(gone));
            // A name parsed after the DEALLOCATE ALL in the same pipeline survives it.
            List<Be> fresh = t.same(query("DEALLOCATE ALL"), parse("s1", DOUBLED), bind("", "s1", "5"), execute("", 0), sync());
            assertEquals(List.of("['10']"), rows(fresh));
        }
    }

    @Test
    void usesOfNamesPipelinedAfterAnExtendedProtocolDeallocateWaitForItsAnswer() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n"); Twin t = Twin.open(proxy)) {
            t.same(parse("s1", DOUBLED), sync());
            // DEALLOCATE ALL through Parse, Bind and Execute, as drivers send every statement.
            List<Be> gone = t.same(parse("", "DEALLOCATE ALL"), bind("", ""), execute("", 0),
                    bind("", "s1", "4"), execute("", 0), sync());
            assertEquals("26000", sqlStates(gone));
            t.same(parse("s1", DOUBLED), sync());
            List<Be> fresh = t.same(parse("", "DEALLOCATE ALL"), bind("", ""), execute("", 0),
                    parse("s1", DOUBLED), bind("", "s1", "5"), execute("", 0), sync());
            assertEquals(List.of("['10']"), rows(fresh));
        }
    }

    @Test
    void withTheCacheOffNamesPassThroughUntouched() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\npgproxy.pool.max-prepared-statements = 0\n");
             Conversation c = client(proxy)) {
            List<Be> inTransaction = c.exchange(List.of(query("BEGIN"), parse("mine", DOUBLED), bind("", "mine", "21"),
                    execute("", 0), sync()));
            assertEquals(List.of("['42']"), rows(inTransaction));
            List<Be> names = c.exchange(List.of(query("select name from pg_prepared_statements"), sync()));
            assertEquals(List.of("['mine']"), rows(names), "the backend knows the client's own name");
            c.exchange(List.of(query("ROLLBACK")));
            assertEquals(0, pool(proxy).preparedStatements().prepares());
        }
    }

    @Test
    void statementPoolingRunsPgjdbcPreparedStatements() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\npgproxy.pool.mode = statement\n")) {
            List<Connection> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 6; i++) {
                    clients.add(jdbc(proxy, 1));
                }
                for (int round = 0; round < 5; round++) {
                    for (int i = 0; i < clients.size(); i++) {
                        try (PreparedStatement ps = clients.get(i).prepareStatement("select ?::int * 2")) {
                            ps.setInt(1, i + round);
                            try (ResultSet rs = ps.executeQuery()) {
                                assertTrue(rs.next());
                                assertEquals(2 * (i + round), rs.getInt(1));
                            }
                        }
                    }
                }
            } finally {
                for (Connection c : clients) {
                    c.close();
                }
            }
            assertTrue(pool(proxy).preparedStatements().hits() > 0, pool(proxy).preparedStatements().toString());
        }
    }

    @Test
    void aClientPastItsPreparedStatementLimitIsClosedWith53400() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.limits.max-client-prepared-statements = 3\n");
             Conversation greedy = client(proxy); Conversation other = client(proxy)) {
            for (int i = 1; i <= 3; i++) {
                assertEquals("1Z", tags(greedy.exchange(List.of(parse("s" + i, "select " + i), sync()))));
            }
            // Closing one makes room again.
            assertEquals("3Z", tags(greedy.exchange(List.of(closeStatement("s1"), sync()))));
            assertEquals("1Z", tags(greedy.exchange(List.of(parse("s4", "select 4"), sync()))));

            greedy.wire().write(parse("s5", "select 5").bytes(), sync().bytes());
            PgWire.Reaction r = greedy.wire().awaitReaction();
            assertTrue(r instanceof PgWire.Reaction.Error e && "53400".equals(e.sqlState()), r.toString());
            assertTrue(greedy.wire().awaitClosed());

            assertEquals(List.of("['8']"), rows(other.exchange(List.of(parse("x", DOUBLED), bind("", "x", "4"),
                    execute("", 0), sync()))), "other clients are unaffected");
        }
    }

    @Test
    void lruEvictionWithTwoStatementsPerBackendAndThePoolsCounters() throws Exception {
        List<String> texts = List.of("select 1 as one", "select 2 as two", "select 3 as three", "select 4 as four");
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\npgproxy.pool.max-prepared-statements = 2\n");
             Twin a = Twin.open(proxy); Conversation b = client(proxy)) {
            for (int i = 0; i < texts.size(); i++) {
                String name = "s" + (i + 1);
                assertEquals(List.of("['" + (i + 1) + "']"), rows(a.same(parse(name, texts.get(i)), bind("", name), execute("", 0), sync())));
            }
            // Only two fit on the backend: the first two were evicted and come back unseen.
            List<Fe> all = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                all.add(bind("", "s" + (i + 1)));
                all.add(execute("", 0));
            }
            all.add(sync());
            assertEquals(List.of("['1']", "['2']", "['3']", "['4']"), rows(a.same(all.toArray(Fe[]::new))));
            for (int round = 0; round < 2; round++) {
                for (int i = texts.size() - 1; i >= 0; i--) {
                    assertEquals(List.of("['" + (i + 1) + "']"), rows(a.same(bind("", "s" + (i + 1)), execute("", 0), sync())));
                }
            }
            // s1 was used last, so it is on the backend: b's Parse of its text is a hit.
            assertEquals("1Z", tags(b.exchange(List.of(parse("b1", texts.getFirst()), sync()))));

            b.wire().write(PgWire.query("select count(*) from pg_prepared_statements where name like '\\_\\_pgproxy\\_%'"));
            String onBackend = b.wire().readUntilReady().stream().filter(m -> m.tag() == 'D')
                    .map(m -> ExtendedProtocol.reduce(m).detail()).findFirst().orElseThrow();
            assertTrue(onBackend.equals("['1']") || onBackend.equals("['2']"), "at most two on the backend: " + onBackend);

            StatementCounters c = pool(proxy).preparedStatements();
            long prepares = c.prepares();
            long hits = c.hits();
            long evictions = c.evictions();
            String counters = "prepares=" + prepares + " hits=" + hits + " evictions=" + evictions;
            assertTrue(prepares >= texts.size() + 2, counters);
            assertTrue(evictions >= texts.size(), counters);
            assertTrue(evictions <= prepares, counters);
            assertTrue(hits >= 1, counters);
        }
    }
}
