package io.pgproxy.failover;

/** Whether a host answers its health checks, as its counts in a row say (PgBouncer has no such thing; HAProxy's fall/rise does). */
public enum HostState {
    /** Not checked yet. */
    UNKNOWN,
    UP,
    DOWN;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
