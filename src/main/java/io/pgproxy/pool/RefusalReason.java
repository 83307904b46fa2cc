package io.pgproxy.pool;

import org.slf4j.event.Level;

/**
 * Why the proxy turned a client away before or at login: one value per distinct cause, so logs
 * and metrics name the cause instead of lumping probes, typos and overload together. It lives
 * here, low in the layers, because the limits it names are the pools' and because both the
 * client session and the server's listener refuse clients.
 *
 * <p>The level says how loudly to log it: INFO for what clients do routinely (a {@code pg_isready}
 * probe asks for a database that need not exist, a typo in a user name), WARN for limits being
 * hit, which an operator may need to act on.
 */
public enum RefusalReason {
    /** {@code limits.max-clients}: the whole proxy is full (refused before the startup packet). */
    MAX_CLIENTS("too many clients", Level.WARN),
    /** {@code limits.max-db-clients}. */
    MAX_DB_CLIENTS("too many clients for the database", Level.WARN),
    /** {@code limits.max-user-clients}. */
    MAX_USER_CLIENTS("too many clients for the user", Level.WARN),
    /** No backend within {@code pool.wait-timeout}, or a connection budget was exhausted. */
    WAIT_TIMEOUT("no backend within the wait timeout", Level.WARN),
    /** The database asked for is not in {@code databases} (3D000). */
    UNKNOWN_DATABASE("unknown database", Level.INFO),
    /** The user is not in {@code users} (28000). */
    UNKNOWN_USER("unknown user", Level.INFO),
    /** Wrong password or a failed SASL exchange. */
    AUTHENTICATION_FAILED("authentication failed", Level.INFO),
    /** The user exists but has no usable password: none, or past its rolvaliduntil (28P01, as a wrong one). */
    NO_PASSWORD("no valid password for the user", Level.INFO),
    /** {@code hba} rules are configured and none covers the connection (28000). */
    NO_HBA_ENTRY("no hba rule covers the connection", Level.INFO),
    /** The first {@code hba} rule covering the connection says {@code reject} (28000). */
    HBA_REJECT("rejected by an hba rule", Level.INFO),
    /**
     * A plaintext client where TLS is needed (28000): by client-tls mode (the listener's or the
     * database's), or by the rule's method (cleartext password, SCRAM-SHA-256-PLUS).
     */
    TLS_REQUIRED("TLS required", Level.INFO),
    /**
     * No client certificate, or one that is not valid or not the user's (28000), where the
     * client-tls mode (verify-ca, verify-full) or the method (cert) needs one.
     */
    CERTIFICATE("client certificate refused", Level.INFO),
    /** The auth query could not be run on the backend (08001); an operator must look at it. */
    AUTH_QUERY_FAILED("auth query failed", Level.WARN),
    /** A replication connection (walsender), which pgproxy does not relay (0A000). */
    REPLICATION("replication refused", Level.INFO),
    /** A startup parameter or {@code options} value pgproxy cannot honour (0A000, 55P02). */
    STARTUP_PARAMETER("startup parameter refused", Level.INFO);

    private final String description;
    private final Level level;

    RefusalReason(String description, Level level) {
        this.description = description;
        this.level = level;
    }

    /** Words for a log line: "unknown database". */
    public String description() {
        return description;
    }

    public Level level() {
        return level;
    }
}
