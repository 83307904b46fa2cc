package io.pgproxy.failover;

/** One health check's outcome. */
public sealed interface CheckResult {
    /** The host logged the check in and answered {@code pg_is_in_recovery()}. */
    record Answered(boolean inRecovery) implements CheckResult {
    }

    /** The check could not connect, log in or get its answer in time; {@code reason} names why, never a secret. */
    record Failed(String reason) implements CheckResult {
    }
}
