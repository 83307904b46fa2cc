package io.pgproxy.client;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The look at statement texts: the allocation-free pre-test, and statements too long to inspect whole. */
class RequestScannerTest {
    private static boolean worth(String sql) {
        ByteBuffer b = ByteBuffer.wrap(sql.getBytes(StandardCharsets.UTF_8));
        return RequestScanner.worthALook(b, 0, b.limit());
    }

    @Test
    void statementsThatMayPinDeallocateOrSetAreLookedAt() {
        assertTrue(worth("  set TimeZone = 'UTC'"));
        assertTrue(worth("SET search_path TO a"));
        assertTrue(worth("CREATE TEMP TABLE t (x int)"));
        assertTrue(worth("create local temporary table t (x int)"));
        assertTrue(worth("select 1 into TEMP t"));
        assertTrue(worth("SELECT pg_advisory_lock(1)"));
        assertTrue(worth("select pg_try_advisory_lock(1)"));
        assertTrue(worth("DEALLOCATE ALL"));
        assertTrue(worth("discard all"));
        assertTrue(worth(" RESET work_mem"));
    }

    @Test
    void ordinaryStatementsAreNot() {
        assertFalse(worth("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;"));
        assertFalse(worth("UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 3;"));
        assertFalse(worth("BEGIN"));
        assertFalse(worth(""));
        assertFalse(worth("se"));
    }

    /** A Query message of {@code sql}, cut after {@code keep} bytes (all if negative). */
    private static ByteBuffer query(String sql, int keep) {
        byte[] text = sql.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(5 + text.length + 1);
        b.put((byte) 'Q').putInt(4 + text.length + 1).put(text).put((byte) 0).flip();
        if (keep >= 0) {
            b.limit(keep);
        }
        return b;
    }

    @Test
    void aStatementTooLongToInspectIsStillLookedAtByItsStart() throws Exception {
        String sql = "CREATE TEMP TABLE big AS SELECT 1 AS x /* " + "x".repeat(20_000) + " */";
        RequestScanner waiting = new RequestScanner(1 << 20, true, false);
        ByteBuffer start = query(sql, 5 + 100);
        assertEquals(0, waiting.scan(start), "its start is waited for before anything is relayed");
        assertEquals(io.pgproxy.backend.RequestRun.NONE, waiting.takeRun(), "nothing counted yet");

        RequestScanner scanner = new RequestScanner(1 << 20, true, false);
        ByteBuffer more = query(sql, 5 + RequestScanner.HEAD_BYTES + 10);
        assertEquals(more.limit(), scanner.scan(more), "then the message streams");
        assertFalse(scanner.atBoundary());
        io.pgproxy.backend.RequestRun run = scanner.takeRun();
        assertEquals(io.pgproxy.session.PinReason.TEMPORARY_TABLE, run.pin());
        assertEquals(1, run.readyForQueries());
        assertEquals(io.pgproxy.backend.RequestRun.NONE, scanner.takeRun(), "handed over once");
    }

    @Test
    void aLongSetIsNotTakenForAPlainOne() throws Exception {
        String sql = "SET application_name = '" + "a".repeat(10_000) + "'";
        RequestScanner scanner = new RequestScanner(1 << 20, true, false);
        ByteBuffer b = query(sql, -1);
        assertEquals(b.limit(), scanner.scan(b));
        assertEquals(java.util.List.of(new io.pgproxy.session.SetStatement.Unrecognised()),
                scanner.takeRun().sets(), "only a whole statement is replayed as a SET");
    }

    private static boolean commits(String sql) {
        ByteBuffer b = ByteBuffer.wrap(sql.getBytes(StandardCharsets.UTF_8));
        return RequestScanner.mayCommit(b, 0, b.limit());
    }

    @Test
    void statementsAfterWhichOnlyTheServerKnowsTheOutcomeAreSeen() {
        assertTrue(commits("COMMIT"));
        assertTrue(commits("  commit work;"));
        assertTrue(commits("End"));
        assertTrue(commits("PREPARE TRANSACTION 'gx'"));
        assertTrue(commits("COMMIT PREPARED 'gx'"));
        assertFalse(commits("ROLLBACK"), "a rollback's outcome is known");
        assertFalse(commits("committed_rows()"));
        assertFalse(commits("ending"));
        assertFalse(commits("PREPARE q AS SELECT 1"));
        assertFalse(commits("SELECT 1; COMMIT"), "only a statement's start is looked at");
        assertFalse(commits(""));
    }

    @Test
    void aRunWithACommitSaysSo() throws Exception {
        RequestScanner scanner = new RequestScanner(1 << 20, true, false);
        ByteBuffer b = query("COMMIT", -1);
        assertEquals(b.limit(), scanner.scan(b));
        assertTrue(scanner.takeRun().mayCommit());
        ByteBuffer next = query("SELECT 1", -1);
        assertEquals(next.limit(), scanner.scan(next));
        assertFalse(scanner.takeRun().mayCommit(), "cleared with the hand-over");
    }

    @Test
    void whileDiscardingMessagesPassUncountedUpToTheSyncWhichIsCutOut() throws Exception {
        String sql = "SET work_mem = '1MB'";
        ByteBuffer execute = ByteBuffer.allocate(10).put((byte) 'E').putInt(9).put((byte) 0).putInt(0).flip();
        ByteBuffer q = query(sql, -1);
        ByteBuffer b = ByteBuffer.allocate(execute.limit() + q.limit() + 5 + q.limit())
                .put(execute).put(q).put((byte) 'S').putInt(4).put(q.duplicate().rewind()).flip();
        int sync = execute.limit() + q.limit();
        RequestScanner scanner = new RequestScanner(1 << 20, true, true);
        scanner.discardUntilSync();
        assertEquals(sync, scanner.scan(b), "the scan stops at the Sync");
        assertTrue(scanner.cutRequested());
        assertEquals(io.pgproxy.backend.RequestRun.NONE, scanner.takeRun(), "nothing dropped is counted, a SET included");
        b.position(sync + 5);
        scanner.discardedSync();
        assertEquals(b.limit(), scanner.scan(b), "after the Sync, requests are scanned as before");
        io.pgproxy.backend.RequestRun run = scanner.takeRun();
        assertEquals(1, run.readyForQueries());
        assertEquals(1, run.sets().size());
    }
}
