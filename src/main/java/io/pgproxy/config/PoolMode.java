package io.pgproxy.config;

/** When a backend connection goes back to the pool. */
public enum PoolMode {
    /** The backend stays with the client until the client disconnects. */
    SESSION,
    /** The backend goes back to the pool at the end of each transaction. */
    TRANSACTION,
    /** The backend goes back to the pool after each statement; transaction blocks are refused. */
    STATEMENT
}
