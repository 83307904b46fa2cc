package io.pgproxy.backend;

import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.TransactionStatus;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Where a leased backend's traffic goes: the client that holds the lease. */
public interface BackendSink {
    /**
     * Relays a run of whole or partial messages from {@code from}; {@code atBoundary} is true when the run
     * ends between messages. An IOException detaches the backend from this sink for good.
     */
    void forward(BackendConnection from, ByteBuffer run, boolean atBoundary) throws IOException;

    /** The backend reported a run-time parameter's new value while serving this client. */
    void parameterStatus(String name, String value);

    /** A CommandComplete the proxy watches for passed by (its tag, e.g. "LISTEN", "SET"). */
    void commandComplete(String tag);

    /** Whether {@link #repairBeforeReady} may have something to run; a cheap check on every last ReadyForQuery. */
    default boolean repairPending() {
        return false;
    }

    /**
     * The last ReadyForQuery owed, with this status, is about to be relayed: a batch (one request
     * owing one ReadyForQuery) to run first, whose replies the client never sees, or null. Called on the
     * backend's reader thread.
     */
    default ByteBuffer repairBeforeReady(TransactionStatus status) {
        return null;
    }

    /** The repair batch ran; the backend reported these values, which the client must be told. */
    default void repaired(java.util.Map<String, String> reported) {
    }

    /**
     * The hidden batch sent ahead of the client's run ({@link BackendConnection#sendAhead}) was
     * answered: {@code error} is its ErrorResponse, or null when it ran. Called on the reader's
     * thread before anything that follows the batch's replies is relayed.
     */
    default void aheadAnswered(ErrorResponse error) {
    }

    /** An ErrorResponse passed by: the statement failed, and the transaction it ran in. */
    default void errorResponse() {
    }

    /**
     * A ReadyForQuery with this status was read, before the run holding it is relayed: the
     * client has not seen it yet. {@code answeredAll}: it was the last one owed, so the replies
     * to everything sent so far are in (a later settle of the lease can only follow it). Called on
     * the backend's reader thread.
     */
    default void readyForQuery(TransactionStatus status, boolean answeredAll) {
    }

    /**
     * Whether the client's requests are edited on their way (prepared statements in transaction
     * pooling), so replies are matched against the backend's {@link ReplyQueue}.
     */
    boolean tracksReplies();

    /** Whether CommandComplete tags should be reported to {@link #commandComplete}. */
    boolean watchesCommands();

    /**
     * Whether the client's session may outlive this backend: a FATAL (a server shutting down,
     * pg_terminate_backend) is then kept from the client, whose loss handling decides.
     */
    default boolean survivesLoss() {
        return false;
    }

    /** The backend connection ended while leased; {@code fatal} is its last FATAL error, or null. */
    void backendLost(BackendConnection backend, ErrorResponse fatal);
}
