package io.pgproxy.backend;

/**
 * The lease a backend connection is under, as its reader sees it: told when the backend has
 * answered everything it was asked, so the lease (not the client) decides whether the
 * connection goes back to its pool.
 */
public interface BackendLease {
    /** The last ReadyForQuery owed was read and its run relayed. Called on the reader thread. */
    void settled();
}
