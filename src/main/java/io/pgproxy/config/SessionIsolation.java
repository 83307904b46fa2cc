package io.pgproxy.config;

/** What a backend carries from one client to the next in transaction and statement pooling. */
public enum SessionIsolation {
    /**
     * Nothing: before a backend serves a client other than the one that last used it, it is
     * taken back to its login state (SET SESSION AUTHORIZATION DEFAULT, RESET ALL), then given
     * the client's parameters, in the same write as the client's request.
     */
    RESET,
    /**
     * Only what the proxy cannot follow: the parameters it tracks (reported ones, startup values,
     * plain SETs) are brought over as a diff, as PgBouncer does; a setting changed where no
     * protocol message shows it (set_config of an unreported parameter inside a function) may
     * reach the next client. No reset statement runs, so the server does less per transaction.
     */
    TRACKED
}
