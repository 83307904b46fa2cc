package io.pgproxy.client;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.Query;
import io.pgproxy.protocol.message.ReadyForQuery;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.PinReason;

/**
 * What a client is told when its backend is lost, in one place: the errors that answer the
 * requests it was owed, the notice for a block that died while the client was idle in it, the
 * FATAL of a session that cannot go on, and the hidden statement that fails the block again on
 * the next backend. 08006 (connection_failure) in general; 08007 (transaction_resolution_unknown)
 * where a COMMIT was in flight, since the server may have committed.
 */
final class LossReplies {
    static final String LOST = "08006";
    static final String UNKNOWN_OUTCOME = "08007";
    private static final String COMMIT_UNKNOWN = "a COMMIT was in flight, so the transaction may or may not have "
            + "committed; check before retrying it";
    /**
     * Opens a transaction block on a new backend and fails it, so that a client whose block died
     * with its backend finds it failed there: the server answers 25P02 to what it sends and
     * ROLLBACK ends it. The message names the proxy in the server's log.
     */
    static final byte[] ABORTED_BLOCK = new Query("BEGIN; DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '08006', "
            + "MESSAGE = 'pgproxy: the transaction was lost with its server connection; ROLLBACK ends it'; END$$")
            .encode();

    static final String BLOCK_LOST = "server connection lost; the transaction was rolled back and must be ended with ROLLBACK";
    /** An extended-protocol request cut before its Sync: its implicit transaction, if any, never committed. */
    static final String REQUEST_CUT = "server connection lost before the request was complete; nothing of it took effect";

    private LossReplies() {
    }

    static String code(boolean committing) {
        return committing ? UNKNOWN_OUTCOME : LOST;
    }

    /** An ErrorResponse and a ReadyForQuery ({@code now}) for each of the {@code owed} requests. */
    static byte[] answers(int owed, boolean committing, boolean inBlock, TransactionStatus now) {
        String message = committing ? "server connection lost; " + COMMIT_UNKNOWN
                : inBlock ? BLOCK_LOST
                // Outside a block the server commits each statement itself: it may have, just before it died.
                : "server connection lost; the statement may or may not have taken effect";
        return failed(ErrorResponse.error(code(committing), message), owed, false, now);
    }

    /**
     * {@code error} and a ReadyForQuery ({@code now}) for each of {@code requests} requests, as
     * PostgreSQL answers requests that fail; {@code pending}: one more begun without its Sync,
     * which gets the error now and its ReadyForQuery at the Sync.
     */
    static byte[] failed(ErrorResponse error, int requests, boolean pending, TransactionStatus now) {
        byte[] e = error.encode();
        byte[] ready = new ReadyForQuery(now).encode();
        MessageBuilder m = new MessageBuilder();
        for (int i = 0; i < requests; i++) {
            m.bytes(e);
            m.bytes(ready);
        }
        if (pending) {
            m.bytes(e);
        }
        return m.toByteArray();
    }

    /**
     * Nothing is owed to carry an error, and a notice may come at any time: the client learns
     * why its next statement will find the block failed (25P02).
     */
    static byte[] idleInBlockNotice() {
        return ErrorResponse.of("WARNING", LOST, BLOCK_LOST, null).encodeAsNotice();
    }

    /** The FATAL of a session that ends with its backend; {@code pin} names what could not move, or is null. */
    static byte[] sessionEnds(PinReason pin, boolean commitInFlight) {
        return ErrorResponse.fatal(code(commitInFlight), (pin != null
                ? "server connection lost; the session cannot continue without its " + pin.description()
                : "server connection lost; the session cannot continue") + (commitInFlight ? "; " + COMMIT_UNKNOWN : ""))
                .encode();
    }
}
