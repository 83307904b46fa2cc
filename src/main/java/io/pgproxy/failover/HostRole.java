package io.pgproxy.failover;

/** What a host said it is at its last good check: {@code pg_is_in_recovery()} false or true. */
public enum HostRole {
    UNKNOWN,
    PRIMARY,
    STANDBY;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
