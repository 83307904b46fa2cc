package io.pgproxy.failover;

/**
 * What a host said it is at its last good check: {@code pg_is_in_recovery()} false (a primary,
 * or read-only when {@code default_transaction_read_only} is on: no writes go there) or true.
 */
public enum HostRole {
    UNKNOWN,
    PRIMARY,
    READ_ONLY,
    STANDBY;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
