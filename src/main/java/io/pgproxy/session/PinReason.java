package io.pgproxy.session;

/**
 * Session state that cannot move to another backend. A client that creates any of it is pinned
 * to its backend until the state is gone ({@link PinDetector} says when) or the client leaves;
 * each reason is counted once per session that takes it.
 */
public enum PinReason {
    /** LISTEN: notifications are delivered to the backend that listens. */
    LISTEN,
    /** SET of a parameter the backend does not report, so the proxy cannot replay it. */
    UNTRACKED_SET,
    /** SQL-level PREPARE: the statement lives in one backend. */
    SQL_PREPARE,
    /** A cursor declared WITH HOLD outlives its transaction on its backend. */
    CURSOR_WITH_HOLD,
    /** Temporary tables live in one backend's session. */
    TEMPORARY_TABLE,
    /** Session-level advisory locks are held by one backend. */
    ADVISORY_LOCK,
    /**
     * SET SESSION AUTHORIZATION or SET ROLE: the session runs as another role, which the proxy
     * never replays on another backend (a replay must not hand out an identity).
     */
    IDENTITY;

    /** What the state is, for messages to clients: "temporary tables". */
    public String description() {
        return switch (this) {
            case LISTEN -> "LISTEN";
            case UNTRACKED_SET -> "settings the proxy cannot replay";
            case SQL_PREPARE -> "SQL-level prepared statements (PREPARE)";
            case CURSOR_WITH_HOLD -> "cursors WITH HOLD";
            case TEMPORARY_TABLE -> "temporary tables";
            case ADVISORY_LOCK -> "advisory locks";
            case IDENTITY -> "SET SESSION AUTHORIZATION or SET ROLE";
        };
    }
}
