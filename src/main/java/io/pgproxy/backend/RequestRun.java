package io.pgproxy.backend;

import io.pgproxy.session.PinReason;
import io.pgproxy.session.SetStatement;

import java.util.List;

/**
 * What one run of client messages, about to be sent, makes the backend owe and tells the
 * session: taken from the request scanner whole, so nobody reads the scanner's fields while
 * it goes on scanning.
 *
 * @param readyForQueries ReadyForQuery messages the run makes the backend owe
 * @param sawRequest      the run held a request message, so {@code pendingAfterSync} is meaningful
 * @param pendingAfterSync the run ends inside an extended-protocol request (no Sync after its last message)
 * @param mayDeallocate   a statement in the run may drop prepared statements
 * @param kinds           reply-queue entries of the run's messages in order, or null when replies are not matched
 * @param deallocatingKind index in {@code kinds} of the entry that may deallocate, or -1
 * @param pin             a pin the statement texts revealed, or null
 * @param sets            statements of the run starting with SET, in order
 * @param resets          recognised RESETs of the run, in order
 * @param mayCommit       a statement of the run starts with COMMIT, END or PREPARE TRANSACTION: once it
 *                        is sent, the outcome of the transaction is the server's to tell
 * @param opensBlock      the run's first statement starts with BEGIN or START TRANSACTION (looked for only
 *                        where transaction replay is on, as are the next two)
 * @param unreplayable    a statement of the run ends or controls a block, was not seen whole, or shares its
 *                        text with another: a transaction holding it is not replayed
 * @param statements      Query and Execute messages of the run
 */
public record RequestRun(int readyForQueries, boolean sawRequest, boolean pendingAfterSync, boolean mayDeallocate,
                         byte[] kinds, int deallocatingKind, PinReason pin, List<SetStatement.Sent> sets,
                         List<SetStatement.Reset> resets, boolean mayCommit, boolean opensBlock,
                         boolean unreplayable, int statements) {
    /** A run that owes nothing and tells nothing. */
    public static final RequestRun NONE = new RequestRun(0, false, false, false, null, -1, null, List.of(), List.of(), false, false, false, 0);
    /** A run of one whole request (a Query, or a batch ending in Sync) and nothing else. */
    public static final RequestRun ONE_REQUEST = new RequestRun(1, true, false, false, null, -1, null, List.of(), List.of(),
            false, false, false, 1);
}
