package io.pgproxy.failover;

/** One health check's outcome. */
public sealed interface CheckResult {
    /**
     * The host logged the check in and answered: whether it is in recovery, and how far its WAL
     * goes (a primary's write position, a standby's replay position) in bytes from 0/0.
     */
    record Answered(boolean inRecovery, long walPosition) implements CheckResult {
    }

    /** The check could not connect, log in or get its answer in time; {@code reason} names why, never a secret. */
    record Failed(String reason) implements CheckResult {
    }
}
