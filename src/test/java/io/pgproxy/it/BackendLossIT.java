package io.pgproxy.it;

import io.pgproxy.fixtures.FaultyLink;
import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.Sql.one;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backend that dies under a client (reset with no FATAL, as a killed server or a cut network
 * leaves it): the client gets 08006 for what was in flight or the transaction that was open, and
 * keeps its session; its next transaction runs on a new backend. The server is reached through a
 * {@link FaultyLink}, so the shared PostgreSQL is never disturbed.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class BackendLossIT {
    private static PostgresFixture pg;
    private static FaultyLink link;
    private static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) throws Exception {
        pg = database;
        link = FaultyLink.to(pg.host(), pg.port());
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.pool.mode = transaction\n"
                + "pgproxy.databases.lossy { host = \"127.0.0.1\", port = " + link.port() + ", dbname = \"" + pg.db()
                + "\", user = \"trust_user\" }\n");
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS loss_ledger");
            s.execute("CREATE TABLE loss_ledger (id int PRIMARY KEY, note text)");
            s.execute("GRANT ALL ON loss_ledger TO trust_user");
            // A commit that takes its time: a deferred trigger sleeps in it, so a test can cut
            // the link while COMMIT is in flight.
            s.execute("DROP TABLE IF EXISTS slow_commit");
            s.execute("CREATE TABLE slow_commit (id int PRIMARY KEY)");
            s.execute("GRANT ALL ON slow_commit TO trust_user");
            s.execute("CREATE OR REPLACE FUNCTION slow_commit_nap() RETURNS trigger LANGUAGE plpgsql AS "
                    + "$$BEGIN PERFORM pg_sleep(3); RETURN NULL; END$$");
            s.execute("CREATE CONSTRAINT TRIGGER slow_commit_nap AFTER INSERT ON slow_commit "
                    + "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit_nap()");
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

    private Connection client() throws SQLException {
        return proxy.connect(PostgresFixture.TRUST_USER, null, "lossy");
    }

    private static int rows(String where) throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return Integer.parseInt(one(s, "SELECT count(*) FROM loss_ledger WHERE " + where));
        }
    }

    @Test
    void aStatementInFlightGets08006AndTheSessionGoesOn() throws Exception {
        try (Connection c = client(); Statement s = c.createStatement()) {
            s.execute("SET application_name = 'kept_across_loss'");
            CompletableFuture<SQLException> inFlight = severWhileRunning(s);
            SQLException e = inFlight.get(20, TimeUnit.SECONDS);
            assertEquals("08006", e.getSQLState(), e.getMessage());
            assertEquals("1", one(s, "SELECT 1"), "the same session runs its next statement");
            assertEquals("kept_across_loss", one(s, "SHOW application_name"), "its settings came along");
            assertTrue(proxy.pool("lossy").stats().sessionsMovedTotal() > 0);
        }
    }

    @Test
    void aTransactionInFlightFailsAsAWholeAndRollbackEndsIt() throws Exception {
        try (Connection c = client(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO loss_ledger VALUES (1, 'lost with its server')");
            CompletableFuture<SQLException> inFlight = severWhileRunning(s);
            assertEquals("08006", inFlight.get(20, TimeUnit.SECONDS).getSQLState());
            // Until ROLLBACK the block stays failed, as in any failed transaction.
            SQLException aborted = assertThrows(SQLException.class, () -> s.execute("INSERT INTO loss_ledger VALUES (2, 'x')"));
            assertEquals("25P02", aborted.getSQLState());
            c.rollback();
            s.execute("INSERT INTO loss_ledger VALUES (3, 'after the loss')");
            c.commit();
        }
        assertEquals(0, rows("id IN (1, 2)"), "nothing of the lost transaction was applied");
        assertEquals(1, rows("id = 3"), "the next transaction committed once");
    }

    @Test
    void aCommitInFlightGets08007AndIsNeverSentAgain() throws Exception {
        try (Connection c = client(); Statement s = c.createStatement();
             var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            c.setAutoCommit(false);
            // pgjdbc prepares its COMMIT by name at first use and later only binds it: the
            // commit in flight below has no statement text, the proxy knows it from the first.
            s.execute("SELECT 1");
            c.commit();
            s.execute("INSERT INTO slow_commit VALUES (1)");
            java.util.concurrent.Future<SQLException> commit = pool.submit(() -> {
                try {
                    c.commit();
                    return null;
                } catch (SQLException e) {
                    return e;
                }
            });
            await().atMost(10, TimeUnit.SECONDS).until(() -> committingAsleep() > 0);
            link.sever();
            SQLException e = commit.get(20, TimeUnit.SECONDS);
            assertEquals("08007", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("may or may not have committed"), e.getMessage());
            // The block ended with the COMMIT, whatever its outcome: the session runs on.
            s.execute("INSERT INTO slow_commit VALUES (2)");
            c.rollback();
        }
        // The server finishes the commit it was in; the proxy never sent it again.
        await().atMost(15, TimeUnit.SECONDS).until(() -> committingAsleep() == 0);
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            assertEquals("1", one(s, "SELECT count(*) FROM slow_commit WHERE id = 1"));
            assertEquals("0", one(s, "SELECT count(*) FROM slow_commit WHERE id = 2"));
        }
    }

    /** Sessions whose COMMIT sleeps in the deferred trigger. */
    private static int committingAsleep() throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return Integer.parseInt(one(s, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                    + " AND state = 'active' AND query = 'COMMIT'"));
        }
    }

    /** Cuts the link under a client idle in its block, and waits until the proxy has handled the loss. */
    private static void severWhileIdleInBlock() {
        long aborts = proxy.pool("lossy").stats().abortedTotal();
        link.sever();
        await().atMost(10, TimeUnit.SECONDS).until(() -> proxy.pool("lossy").stats().abortedTotal() > aborts);
    }

    @Test
    void aClientIdleInATransactionIsToldAtItsNextStatementAndItsBlockStaysFailed() throws Exception {
        try (Connection c = client(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO loss_ledger VALUES (10, 'idle in transaction')");
            severWhileIdleInBlock();
            // The warning notice aside, the client learns of the loss as from a dead server: an
            // error for its next statement; then the block is failed until ROLLBACK.
            SQLException lost = assertThrows(SQLException.class, () -> s.execute("SELECT 1"));
            assertEquals("08006", lost.getSQLState(), lost.getMessage());
            SQLException aborted = assertThrows(SQLException.class, () -> s.execute("SELECT 1"));
            assertEquals("25P02", aborted.getSQLState());
            c.rollback();
            assertEquals("2", one(s, "SELECT 2"));
            c.commit();
        }
        assertEquals(0, rows("id = 10"));
    }

    @Test
    void aCommitAfterItsBlockWasLostWhileIdleIsNeverTakenForOne() throws Exception {
        try (Connection c = client(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            // pgjdbc prepares its COMMIT by name at first use, and binds it afterwards.
            s.execute("SELECT 1");
            c.commit();
            s.execute("INSERT INTO loss_ledger VALUES (11, 'committed after the loss?')");
            severWhileIdleInBlock();
            // Sent on to a failed block, the COMMIT would be answered with a silent ROLLBACK,
            // which pgjdbc reports as a successful commit.
            SQLException e = assertThrows(SQLException.class, c::commit);
            assertEquals("08006", e.getSQLState(), e.getMessage());
            c.rollback();
            assertEquals("3", one(s, "SELECT 3"));
            c.commit();
        }
        assertEquals(0, rows("id = 11"));
    }

    @Test
    void underRepeatedCutsNoAcknowledgedCommitIsLostAndNoFailedOneApplied() throws Exception {
        LedgerChurn churn = LedgerChurn.run(8, 5, this::client, "loss_ledger", 100_000, link::sever);
        try (Connection c = pg.superuser(pg.db())) {
            churn.assertOutcomes(c, "loss_ledger");
        }
        assertTrue(churn.errors().containsKey("08006"), "the cuts hit transactions: " + churn.errors());
    }

    @Test
    void aRequestSentAsItsBackendDiesIsAnsweredAndTheSessionGoesOn() throws Exception {
        // Raw protocol, the request written right after the cut: it meets the dead backend
        // (its write fails, or it is owed when the loss is seen) or a new one, by timing; in
        // every case it is answered and the session goes on.
        try (PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(10))) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "lossy");
            for (int i = 0; i < 20; i++) {
                wire.write(PgWire.query("BEGIN"));
                wire.readUntilReady();
                link.sever();
                wire.write(PgWire.query("SELECT 1"));
                List<PgWire.Message> answer = untilReady(wire);
                PgWire.Message error = answer.stream().filter(m -> m.tag() == 'E').findFirst().orElseThrow(
                        () -> new AssertionError("no error for a statement in a lost transaction: " + answer));
                String state = PgWire.fields(error.body()).get('C');
                assertTrue(state.equals("08006") || state.equals("25P02"), state);
                wire.write(PgWire.query("ROLLBACK"));
                untilReady(wire);
            }
            wire.write(PgWire.query("SELECT 42"));
            assertTrue(wire.readUntilReady().stream().anyMatch(m -> m.tag() == 'D'), "the session still runs statements");
        }
    }

    @Test
    void aFatalToARunningStatementIsKeptFromTheClientAndTheSessionGoesOn() throws Exception {
        // Rows first, then a sleep: terminated, the server flushes the rows it buffered and its
        // FATAL in one write, so the proxy relays part of a read and keeps the rest from the client.
        String sql = "SELECT repeat('x', 100) FROM generate_series(1, 50) UNION ALL SELECT 'z' FROM pg_sleep(30)";
        try (PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(20))) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "lossy");
            wire.write(PgWire.query("SET application_name = 'terminated_under_it'"));
            wire.readUntilReady();
            wire.write(PgWire.query(sql));
            await().atMost(10, TimeUnit.SECONDS).until(() -> terminate(sql));
            List<PgWire.Message> answer = untilReady(wire);
            PgWire.Message error = answer.stream().filter(m -> m.tag() == 'E').findFirst().orElseThrow(
                    () -> new AssertionError("no error for the terminated statement: " + answer));
            assertEquals("08006", PgWire.fields(error.body()).get('C'));
            assertEquals("ERROR", PgWire.fields(error.body()).get('S'), "not the server's FATAL");
            wire.write(PgWire.query("SHOW application_name"));
            List<PgWire.Message> shown = wire.readUntilReady();
            assertTrue(shown.stream().anyMatch(m -> m.tag() == 'D'
                    && new String(m.body(), java.nio.charset.StandardCharsets.UTF_8).contains("terminated_under_it")),
                    "the same session, its settings on the next backend: " + shown);
        }
    }

    /** pg_terminate_backend on the server process running {@code sql}; true once one was. */
    private static boolean terminate(String sql) throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return one(s, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE state = 'active' AND query = '"
                    + sql.replace("'", "''") + "'").equals("1");
        }
    }

    /** Messages up to and including ReadyForQuery, errors among them. */
    private static List<PgWire.Message> untilReady(PgWire wire) throws java.io.IOException {
        List<PgWire.Message> all = new java.util.ArrayList<>();
        PgWire.Message m;
        do {
            m = wire.readMessage();
            if (m == null) {
                throw new java.io.EOFException("closed before ReadyForQuery; got " + all);
            }
            all.add(m);
        } while (m.tag() != 'Z');
        return all;
    }

    @Test
    void aLostBackendOfAPinnedSessionEndsItNamingTheState() throws Exception {
        // Raw protocol: the FATAL comes unasked, and a driver writing its next statement could
        // meet the closed socket before it reads the message.
        try (PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(10))) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "lossy");
            wire.write(PgWire.query("CREATE TEMPORARY TABLE pinned_here (x int)"));
            wire.readUntilReady();
            link.sever();
            PgWire.Reaction r = wire.awaitReaction();
            PgWire.Reaction.Error e = assertInstanceOf(PgWire.Reaction.Error.class, r);
            assertEquals("08006", e.sqlState());
            assertEquals("FATAL", e.fields().get('S'));
            assertTrue(e.fields().get('M').contains("temporary tables"), e.fields().get('M'));
            assertTrue(wire.awaitClosed());
        }
    }

    /** Starts a 30 s statement on {@code s}, severs the link once the server runs it; completes with its error. */
    private static CompletableFuture<SQLException> severWhileRunning(Statement s) {
        CompletableFuture<SQLException> inFlight = CompletableFuture.supplyAsync(() -> {
            try {
                s.execute("SELECT pg_sleep(30)");
                return null;
            } catch (SQLException e) {
                return e;
            }
        });
        await().atMost(10, TimeUnit.SECONDS).until(() -> sleeping() > 0);
        link.sever();
        return inFlight;
    }

    private static int sleeping() throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return Integer.parseInt(one(s, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"
                    + " AND state = 'active'"));
        }
    }
}
