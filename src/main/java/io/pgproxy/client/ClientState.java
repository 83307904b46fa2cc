package io.pgproxy.client;

import java.util.EnumSet;
import java.util.Set;

/**
 * Where a client session is in its life; changed only by {@link ClientSession}'s one
 * transition method. PgBouncer's client states where the concept is the same: {@code CL_LOGIN},
 * {@code CL_WAITING}, {@code CL_ACTIVE}; pgproxy adds {@link #IDLE} (logged in, holding no
 * backend: what transaction pooling makes of most clients) and {@link #PINNED}.
 */
public enum ClientState {
    /** Startup negotiation and authentication. */
    LOGGING_IN,
    /** Logged in, holding no backend. */
    IDLE,
    /** Waiting for its pool to hand it a backend. */
    WAITING,
    /** Holding a backend. */
    ACTIVE,
    /** Holding a backend past the transaction's end: its session state cannot move (see PinReason). */
    PINNED,
    /** Leaving; final. */
    CLOSING;

    private Set<ClientState> next;

    static {
        LOGGING_IN.next = EnumSet.of(IDLE, CLOSING);
        IDLE.next = EnumSet.of(WAITING, CLOSING);
        WAITING.next = EnumSet.of(ACTIVE, IDLE, CLOSING);
        ACTIVE.next = EnumSet.of(IDLE, PINNED, CLOSING);
        PINNED.next = EnumSet.of(ACTIVE, CLOSING);
        CLOSING.next = EnumSet.noneOf(ClientState.class);
    }

    /** Whether a session in this state may move to {@code to}. */
    public boolean canMoveTo(ClientState to) {
        return next.contains(to);
    }
}
