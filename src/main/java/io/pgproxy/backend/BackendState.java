package io.pgproxy.backend;

import java.util.EnumSet;
import java.util.Set;

/**
 * Where a backend connection is in its life; changed only by {@link BackendConnection#moveTo}.
 * The names are PgBouncer's server states where the concept is the same ({@code SV_LOGIN},
 * {@code SV_IDLE}, {@code SV_ACTIVE}, {@code SV_USED} for resetting).
 */
public enum BackendState {
    /** The TCP connection is being opened. */
    CONNECTING,
    /** Startup and authentication with the backend are running. */
    LOGGING_IN,
    /** In its pool, free for the next client. */
    IDLE,
    /** Leased to a client. */
    ACTIVE,
    /** Given back by a client and being rolled back or reset before it is idle again. */
    RESETTING,
    /** Closed, by the proxy or by the backend; final. */
    CLOSED;

    private Set<BackendState> next;

    static {
        CONNECTING.next = EnumSet.of(LOGGING_IN, CLOSED);
        LOGGING_IN.next = EnumSet.of(IDLE, CLOSED);
        IDLE.next = EnumSet.of(ACTIVE, CLOSED);
        ACTIVE.next = EnumSet.of(IDLE, RESETTING, CLOSED);
        RESETTING.next = EnumSet.of(IDLE, CLOSED);
        CLOSED.next = EnumSet.noneOf(BackendState.class);
    }

    /** Whether a connection in this state may move to {@code to}. */
    public boolean canMoveTo(BackendState to) {
        return next.contains(to);
    }
}
