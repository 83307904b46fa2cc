package io.pgproxy.client;

import io.pgproxy.backend.RequestRun;
import io.pgproxy.pool.ReplayRefusal;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What makes a transaction replayable: the statement looks of the request scanner, the
 * journal's refusals and bounds, and the reply check that hides what the client already had.
 */
class TransactionJournalTest {
    private static ByteBuffer text(String sql) {
        return ByteBuffer.wrap(sql.getBytes(StandardCharsets.UTF_8));
    }

    private static int kind(String sql) {
        ByteBuffer b = text(sql);
        return StatementStart.kind(b, 0, b.limit());
    }

    private static boolean several(String sql) {
        ByteBuffer b = text(sql);
        return StatementStart.severalStatements(b, 0, b.limit());
    }

    @Test
    void statementStartsAreClassifiedByTheirFirstWord() {
        assertEquals(StatementStart.OPENS, kind("BEGIN"));
        assertEquals(StatementStart.OPENS, kind("  begin isolation level repeatable read;"));
        assertEquals(StatementStart.OPENS, kind("START TRANSACTION"));
        for (String ends : new String[] {"COMMIT", "end;", "ROLLBACK", "rollback to savepoint a", "ABORT",
                "PREPARE TRANSACTION 'x'", "commit prepared 'x'"}) {
            assertEquals(StatementStart.ENDS, kind(ends), ends);
        }
        for (String plain : new String[] {"SELECT 1", "beginning()", "INSERT INTO t VALUES (1)", "ending", "", "   ",
                "SAVEPOINT a", "UPDATE t SET x = 1", "abortive()", "rollbacks"}) {
            assertEquals(StatementStart.PLAIN, kind(plain), plain);
        }
    }

    @Test
    void aTextWithAStatementAfterASemicolonHoldsSeveral() {
        assertFalse(several("SELECT 1"));
        assertFalse(several("SELECT 1;"));
        assertFalse(several("SELECT 1; ;  \n"));
        assertTrue(several("INSERT INTO t VALUES (1); COMMIT"));
        assertTrue(several("SELECT ';x'"), "a semicolon in a literal counts: refusing is always safe");
    }

    /** What the scanner makes of one Query message with replay looks on. */
    private static RequestRun scanQuery(String sql) throws Exception {
        byte[] t = sql.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(5 + t.length + 1);
        b.put((byte) 'Q').putInt(4 + t.length + 1).put(t).put((byte) 0).flip();
        RequestScanner scanner = new RequestScanner(1 << 20, true, false, true);
        assertEquals(b.limit(), scanner.scan(b));
        return scanner.takeRun();
    }

    @Test
    void theScannerTellsWhetherARunOpensABlockOrCannotBeReplayed() throws Exception {
        RequestRun begin = scanQuery("BEGIN;");
        assertTrue(begin.opensBlock());
        assertFalse(begin.unreplayable());
        assertEquals(1, begin.statements());
        RequestRun plain = scanQuery("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 3;");
        assertFalse(plain.opensBlock());
        assertFalse(plain.unreplayable());
        assertTrue(scanQuery("ROLLBACK").unreplayable());
        assertTrue(scanQuery("BEGIN; INSERT INTO t VALUES (1); COMMIT").unreplayable());
        assertTrue(scanQuery("END").mayCommit());
    }

    private static RequestRun run(boolean opens, boolean unreplayable, boolean commit, int statements) {
        return new RequestRun(1, true, false, false, null, -1, null, java.util.List.of(), java.util.List.of(), commit,
                opens, unreplayable, statements);
    }

    private static TransactionJournal journalOf(RequestRun... runs) {
        TransactionJournal j = new TransactionJournal(1024, 10);
        j.begin(null);
        for (RequestRun r : runs) {
            byte[] bytes = ("run" + r.statements()).getBytes(StandardCharsets.US_ASCII);
            j.record(r, ByteBuffer.wrap(bytes), 0, bytes.length);
        }
        return j;
    }

    @Test
    void aTransactionIsReplayableOnlyFromBeginWithoutControlOrSessionState() {
        assertNull(journalOf(run(true, false, false, 1), run(false, false, false, 2)).refusal(null));
        assertEquals(ReplayRefusal.NO_BEGIN, journalOf(run(false, false, false, 1)).refusal(null));
        assertEquals(ReplayRefusal.STATEMENT, journalOf(run(true, false, false, 1), run(false, true, false, 1)).refusal(null));
        assertEquals(ReplayRefusal.STATEMENT, journalOf(run(true, false, false, 1), run(true, false, false, 1)).refusal(null));
        assertEquals(ReplayRefusal.COMMIT, journalOf(run(true, false, false, 1), run(false, false, true, 1)).refusal(null));
        assertEquals(ReplayRefusal.TOO_LARGE, journalOf(run(true, false, false, 1), run(false, false, false, 10)).refusal(null));
        TransactionJournal edited = journalOf(run(true, false, false, 1));
        edited.record(run(false, false, false, 1), null, 0, 0);
        assertEquals(ReplayRefusal.PREPARED_STATEMENTS, edited.refusal(null));
    }

    @Test
    void theJournalKeepsTheRequestsAsSentAndForgetsThemAtTheNextTransaction() {
        TransactionJournal j = journalOf(run(true, false, false, 1), run(false, false, false, 2));
        ByteBuffer requests = j.requests();
        byte[] all = new byte[requests.remaining()];
        requests.get(all);
        assertArrayEquals("run1run2".getBytes(StandardCharsets.US_ASCII), all);
        assertEquals(2, j.runs().length);
        j.begin(null);
        assertEquals(0, j.requests().remaining());
        assertEquals(ReplayRefusal.NO_BEGIN, j.refusal(null), "nothing recorded yet");
    }

    @Test
    void theReplayHidesWhatTheClientHadAndRelaysTheRest() {
        TransactionJournal j = journalOf(run(true, false, false, 1));
        byte[] seen = "ABCDEF".getBytes(StandardCharsets.US_ASCII);
        j.replied(null, ByteBuffer.wrap(seen));
        ReplayCheck check = j.replayOn(null, j.repliedBytes(), j.repliesCrc());
        ByteBuffer first = ByteBuffer.wrap("ABC".getBytes(StandardCharsets.US_ASCII));
        assertTrue(checkPart(check, first, j));
        assertFalse(first.hasRemaining(), "hidden: the client had it");
        assertTrue(check.comparing());
        ByteBuffer rest = ByteBuffer.wrap("DEFGH".getBytes(StandardCharsets.US_ASCII));
        assertTrue(checkPart(check, rest, j));
        assertFalse(check.comparing());
        assertEquals("GH", StandardCharsets.US_ASCII.decode(rest).toString(), "only what is new reaches the client");
    }

    @Test
    void aReplayThatAnswersDifferentlyIsRefused() {
        TransactionJournal j = journalOf(run(true, false, false, 1));
        j.replied(null, ByteBuffer.wrap("2026-12-03 09:00".getBytes(StandardCharsets.US_ASCII)));
        ReplayCheck check = j.replayOn(null, j.repliedBytes(), j.repliesCrc());
        assertFalse(checkPart(check, ByteBuffer.wrap("2026-12-03 09:01".getBytes(StandardCharsets.US_ASCII)), j));
    }

    /** {@link ReplayCheck#check} without a backend, so with no count of the replies still owed. */
    private static boolean checkPart(ReplayCheck check, ByteBuffer run, TransactionJournal j) {
        return check.check(run, j);
    }

    @Test
    void aReplayBackendLostBeforeItsVerdictIsTheReplaysToGiveUp() {
        ReplayCheck check = new ReplayCheck(null, 10, 0);
        assertTrue(check.lost(), "the replay handles it");
        assertEquals(ReplayCheck.Verdict.LOST, check.verdict());
    }

    @Test
    void aReplayBackendLostAfterAMatchIsTheClientsOnceItHoldsTheLease() throws Exception {
        ReplayCheck check = new ReplayCheck(null, 0, 0);
        check.decide(ReplayCheck.Verdict.MATCH);
        java.util.concurrent.atomic.AtomicBoolean adopted = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.CompletableFuture<Boolean> loss = java.util.concurrent.CompletableFuture.supplyAsync(check::lost);
        // The loss waits for the adoption: it must not find the lease neither the replay's nor the client's.
        org.awaitility.Awaitility.await().during(java.time.Duration.ofMillis(200)).until(() -> !loss.isDone());
        check.adopt(() -> adopted.set(true));
        assertFalse(loss.get(10, java.util.concurrent.TimeUnit.SECONDS), "handled as the client's loss");
        assertTrue(adopted.get());
        assertEquals(ReplayCheck.Verdict.MATCH, check.verdict());
    }
}
