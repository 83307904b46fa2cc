package io.pgproxy.it;

import io.pgproxy.fixtures.FaultyLink;
import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.pool.PoolStats;
import io.pgproxy.pool.ReplayRefusal;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.Sql.one;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Transaction replay: a transaction opened with BEGIN whose backend dies before its COMMIT is
 * sent runs again on a new backend, and the client carries on when every reply it had came
 * again byte for byte; otherwise it gets 08006 as without replay. The backend is reached
 * through a {@link FaultyLink} whose cut leaves no FATAL, as a killed server does; the server
 * keeps running the cut session's statement until it finds its client gone, so a replayed
 * write waits for the original's row lock, as after a network cut.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class TransactionReplayIT {
    private static PostgresFixture pg;
    private static FaultyLink link;
    private static ProxyFixture proxy;
    private static final int GATE = 7_014_001;

    @BeforeAll
    static void start(PostgresFixture database) throws Exception {
        pg = database;
        link = FaultyLink.to(pg.host(), pg.port());
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.pool.mode = transaction\n"
                + "pgproxy.failover.replay-timeout = 20s\n"
                + "pgproxy.databases.replayed { host = \"127.0.0.1\", port = " + link.port() + ", dbname = \"" + pg.db()
                + "\", user = \"trust_user\", transaction-replay = true }\n"
                // Session pooling follows session state on a cluster: two names of the one server.
                + "pgproxy.databases.replayed_session { host = \"127.0.0.1,localhost\", port = " + link.port()
                + ", dbname = \"" + pg.db() + "\", user = \"trust_user\", mode = session, transaction-replay = true }\n");
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS replay_ledger");
            // The primary key is the proof that no row is ever written twice.
            s.execute("CREATE TABLE replay_ledger (id int PRIMARY KEY, note text)");
            s.execute("GRANT ALL ON replay_ledger TO trust_user");
            s.execute("INSERT INTO replay_ledger VALUES (1000, 'before')");
            s.execute("DROP TABLE IF EXISTS replay_slow_commit");
            s.execute("CREATE TABLE replay_slow_commit (id int PRIMARY KEY)");
            s.execute("GRANT ALL ON replay_slow_commit TO trust_user");
            s.execute("CREATE OR REPLACE FUNCTION replay_commit_nap() RETURNS trigger LANGUAGE plpgsql AS "
                    + "$$BEGIN PERFORM pg_sleep(3); RETURN NULL; END$$");
            s.execute("CREATE CONSTRAINT TRIGGER replay_commit_nap AFTER INSERT ON replay_slow_commit "
                    + "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION replay_commit_nap()");
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (link != null) {
            link.close();
        }
    }

    private static Connection client() throws SQLException {
        return proxy.connect(PostgresFixture.TRUST_USER, null, "replayed");
    }

    private static PoolStats stats() {
        return proxy.pool("replayed").stats();
    }

    private static long refused(ReplayRefusal why) {
        return stats().replaysRefused()[why.ordinal()];
    }

    private static int ledgerRows(String where) throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return Integer.parseInt(one(s, "SELECT count(*) FROM replay_ledger WHERE " + where));
        }
    }

    /**
     * A statement that waits for the test's gate: an advisory lock the test holds until it has
     * cut the link, so the cut always finds the statement running (a sleep raced the cut on a
     * slow machine). Returns the label and a space, as the gate's function returns void.
     */
    private static String gated(String label) {
        return "SELECT '" + label + " ' || pg_advisory_xact_lock_shared(" + GATE + ")";
    }

    /** Holds the gate of {@link #gated} until the returned connection is closed. */
    private static Connection closedGate() throws SQLException {
        Connection gate = pg.superuser(pg.db());
        try (Statement s = gate.createStatement()) {
            s.execute("SELECT pg_advisory_lock(" + GATE + ")");
        }
        return gate;
    }

    /** Runs {@code sql} on {@code s} in {@code pool}: its first column or its error. */
    private static Future<Object> started(ExecutorService pool, Statement s, String sql) {
        return pool.submit(() -> {
            try {
                return one(s, sql);
            } catch (SQLException e) {
                return e;
            }
        });
    }

    /** Runs {@code sql} (a {@link #gated} statement) on {@code s}, cuts the link once the server runs it; its first column or its error. */
    private static Object cutWhileRunning(ExecutorService pool, Statement s, String sql) throws Exception {
        Future<Object> running;
        try (Connection gate = closedGate()) {
            running = started(pool, s, sql);
            await().atMost(10, TimeUnit.SECONDS).until(() -> running(sql) > 0);
            link.sever();
        }
        return running.get(60, TimeUnit.SECONDS);
    }

    private static int running(String sql) throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return Integer.parseInt(one(s, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = '"
                    + sql.replace("'", "''") + "'"));
        }
    }

    @Test
    void aReadOnlyTransactionInFlightCompletesWithNoError() throws Exception {
        long matched = stats().replaysMatchedTotal();
        try (Connection c = client(); Statement s = c.createStatement(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            c.setAutoCommit(false);
            assertEquals("before", one(s, "SELECT note FROM replay_ledger WHERE id = 1000"));
            Object answer = cutWhileRunning(pool, s, gated("read"));
            assertEquals("read ", answer, "the statement in flight is answered as if nothing happened");
            assertEquals("before", one(s, "SELECT note FROM replay_ledger WHERE id = 1000"));
            c.commit();
        }
        assertEquals(matched + 1, stats().replaysMatchedTotal());
    }

    @Test
    void aDeterministicWriteInFlightCompletesAndIsAppliedOnce() throws Exception {
        long matched = stats().replaysMatchedTotal();
        try (Connection c = client(); Statement s = c.createStatement(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO replay_ledger VALUES (1, 'first')");
            Object answer = cutWhileRunning(pool, s, gated("write"));
            assertEquals("write ", answer);
            s.execute("INSERT INTO replay_ledger VALUES (2, 'after the replay')");
            c.commit();
        }
        assertEquals(matched + 1, stats().replaysMatchedTotal());
        assertEquals(1, ledgerRows("id = 1"));
        assertEquals(1, ledgerRows("id = 2"));
    }

    @Test
    void underRepeatedCutsEveryTransactionEndsOnceAndNoClientHangs() throws Exception {
        long matchedBefore = stats().replaysMatchedTotal();
        LedgerChurn churn = LedgerChurn.run(8, 5, TransactionReplayIT::client, "replay_ledger", 100_000, link::sever);
        assertTrue(stats().replaysMatchedTotal() > matchedBefore, "some transactions were replayed: " + churn.errors());
        try (Connection c = pg.superuser(pg.db())) {
            churn.assertOutcomes(c, "replay_ledger");
        }
    }

    @Test
    void aSessionPoolingClientOfAClusterIsReplayedToo() throws Exception {
        long matched = proxy.pool("replayed_session").stats().replaysMatchedTotal();
        try (Connection c = proxy.connect(PostgresFixture.TRUST_USER, null, "replayed_session"); Statement s = c.createStatement();
             var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            s.execute("SET application_name = 'session_replayed'");
            c.setAutoCommit(false);
            s.execute("INSERT INTO replay_ledger VALUES (6, 'session pooling')");
            assertEquals("session ", cutWhileRunning(pool, s, gated("session")));
            assertEquals("session_replayed", one(s, "SHOW application_name"), "its settings came along");
            c.commit();
        }
        assertEquals(matched + 1, proxy.pool("replayed_session").stats().replaysMatchedTotal());
        assertEquals(1, ledgerRows("id = 6"));
    }

    @Test
    void aTransactionWhoseServerProcessIsTerminatedIsReplayed() throws Exception {
        long matched = stats().replaysMatchedTotal();
        String sql = gated("terminated");
        try (Connection c = client(); Statement s = c.createStatement(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO replay_ledger VALUES (5, 'before the terminate')");
            Future<Object> running;
            try (Connection gate = closedGate()) {
                running = started(pool, s, sql);
                // The server's FATAL (57P01) is kept from the client, whose transaction runs again.
                await().atMost(10, TimeUnit.SECONDS).until(() -> {
                    try (Connection su = pg.superuser(pg.db()); Statement t = su.createStatement()) {
                        return one(t, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE state = 'active'"
                                + " AND query = '" + sql.replace("'", "''") + "'").equals("1");
                    }
                });
            }
            assertEquals("terminated ", running.get(30, TimeUnit.SECONDS));
            c.commit();
        }
        assertEquals(matched + 1, stats().replaysMatchedTotal());
        assertEquals(1, ledgerRows("id = 5"));
    }

    @Test
    void aReadThatChangedBeforeTheReplayGets08006AndTheBlockStaysFailed() throws Exception {
        long mismatches = refused(ReplayRefusal.MISMATCH);
        try (Connection c = client(); Statement s = c.createStatement(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO replay_ledger VALUES (3, 'written before the read')");
            assertEquals("before", one(s, "SELECT note FROM replay_ledger WHERE id = 1000"));
            try (Connection other = pg.superuser(pg.db()); Statement o = other.createStatement()) {
                o.execute("UPDATE replay_ledger SET note = 'changed' WHERE id = 1000");
            }
            Object answer = cutWhileRunning(pool, s, gated("changed"));
            SQLException e = (SQLException) answer;
            assertEquals("08006", e.getSQLState(), e.getMessage());
            SQLException failed = assertThrows(SQLException.class, () -> s.execute("SELECT 1"));
            assertEquals("25P02", failed.getSQLState());
            c.rollback();
            assertEquals("changed", one(s, "SELECT note FROM replay_ledger WHERE id = 1000"));
            c.commit();
        } finally {
            try (Connection other = pg.superuser(pg.db()); Statement o = other.createStatement()) {
                o.execute("UPDATE replay_ledger SET note = 'before' WHERE id = 1000");
            }
        }
        assertEquals(mismatches + 1, refused(ReplayRefusal.MISMATCH));
        assertEquals(0, ledgerRows("id = 3"), "the replayed insert was rolled back with its replay");
    }

    @Test
    void aNonDeterministicResultGets08006() throws Exception {
        long mismatches = refused(ReplayRefusal.MISMATCH);
        try (Connection c = client(); Statement s = c.createStatement(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            c.setAutoCommit(false);
            one(s, "SELECT now()");
            SQLException e = (SQLException) cutWhileRunning(pool, s, gated("now"));
            assertEquals("08006", e.getSQLState(), e.getMessage());
            c.rollback();
            assertEquals("1", one(s, "SELECT 1"));
            c.commit();
        }
        assertEquals(mismatches + 1, refused(ReplayRefusal.MISMATCH));
    }

    @Test
    void aCommitInFlightIsNeverReplayed() throws Exception {
        long refusedCommits = refused(ReplayRefusal.COMMIT);
        try (Connection c = client(); Statement s = c.createStatement(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO replay_slow_commit VALUES (1)");
            Future<SQLException> commit = pool.submit(() -> {
                try {
                    c.commit();
                    return null;
                } catch (SQLException e) {
                    return e;
                }
            });
            await().atMost(10, TimeUnit.SECONDS).until(() -> running("COMMIT") > 0);
            link.sever();
            SQLException e = commit.get(20, TimeUnit.SECONDS);
            assertEquals("08007", e.getSQLState(), e.getMessage());
        }
        assertEquals(refusedCommits + 1, refused(ReplayRefusal.COMMIT));
        await().atMost(15, TimeUnit.SECONDS).until(() -> running("COMMIT") == 0);
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            assertEquals("1", one(s, "SELECT count(*) FROM replay_slow_commit WHERE id = 1"));
        }
    }

    @Test
    void aStatementOutsideABlockIsNotReplayed() throws Exception {
        long noBegin = refused(ReplayRefusal.NO_BEGIN);
        try (Connection c = client(); Statement s = c.createStatement(); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            SQLException e = (SQLException) cutWhileRunning(pool, s, gated("autocommit"));
            assertEquals("08006", e.getSQLState(), e.getMessage());
            assertEquals("1", one(s, "SELECT 1"));
        }
        assertEquals(noBegin + 1, refused(ReplayRefusal.NO_BEGIN));
    }

    @Test
    void aSimpleProtocolTransactionIsReplayedAndItsReplyRelayedOnce() throws Exception {
        long matched = stats().replaysMatchedTotal();
        try (PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(30));
             var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "replayed");
            wire.write(PgWire.query("BEGIN;"));
            wire.readUntilReady();
            wire.write(PgWire.query("INSERT INTO replay_ledger VALUES (4, 'simple');"));
            wire.readUntilReady();
            String sql = gated("simple") + ";";
            try (Connection gate = closedGate()) {
                wire.write(PgWire.query(sql));
                await().atMost(10, TimeUnit.SECONDS).until(() -> running(sql) > 0);
                link.sever();
            }
            List<PgWire.Message> answer = new ArrayList<>(wire.readUntilReady());
            assertFalse(answer.stream().anyMatch(m -> m.tag() == 'E'), "no error: " + answer);
            assertEquals(1, answer.stream().filter(m -> m.tag() == 'D').count(), "one row, relayed once: " + answer);
            assertEquals(1, answer.stream().filter(m -> m.tag() == 'Z').count());
            wire.write(PgWire.query("COMMIT;"));
            assertTrue(wire.readUntilReady().stream().noneMatch(m -> m.tag() == 'E'));
        }
        assertEquals(matched + 1, stats().replaysMatchedTotal());
        assertEquals(1, ledgerRows("id = 4"));
    }
}
