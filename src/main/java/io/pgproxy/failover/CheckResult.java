package io.pgproxy.failover;

/** One health check's outcome. */
public sealed interface CheckResult {
    /**
     * The host logged the check in and answered: whether it is in recovery, and how far its WAL
     * goes (a primary's write position, a standby's replay position) in bytes from 0/0, and
     * whether its transactions are read-only by default ({@code default_transaction_read_only}):
     * a server out of recovery that refuses writes is no primary, as libpq's read-write check says.
     */
    record Answered(boolean inRecovery, long walPosition, boolean readOnly) implements CheckResult {
        /** A server that takes writes unless in recovery. */
        public Answered(boolean inRecovery, long walPosition) {
            this(inRecovery, walPosition, false);
        }
    }

    /** The check could not connect, log in or get its answer in time; {@code reason} names why, never a secret. */
    record Failed(String reason) implements CheckResult {
    }
}
