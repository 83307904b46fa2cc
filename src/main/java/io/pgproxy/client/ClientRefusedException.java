package io.pgproxy.client;

import io.pgproxy.pool.RefusalReason;

import java.io.IOException;

/**
 * A client turned away at login, for a {@link RefusalReason}: logged under that reason, not as
 * a protocol violation, and answered with {@link #sqlState()}. The message is safe to show the
 * client.
 */
public final class ClientRefusedException extends IOException {
    private final RefusalReason reason;
    private final String sqlState;
    private final String logDetail;

    public ClientRefusedException(RefusalReason reason, String sqlState, String message) {
        this(reason, sqlState, message, null);
    }

    /** @param logDetail what the log line adds for operators (who, from where), never sent to the client; null for none */
    public ClientRefusedException(RefusalReason reason, String sqlState, String message, String logDetail) {
        super(message);
        this.reason = reason;
        this.sqlState = sqlState;
        this.logDetail = logDetail;
    }

    /** For the log only: e.g. the user, database, address and method of a failed login; "" if none. */
    public String logDetail() {
        return logDetail == null ? "" : logDetail;
    }

    public RefusalReason reason() {
        return reason;
    }

    public String sqlState() {
        return sqlState;
    }

    // Refusals can come in floods (probes, overload); a stack trace is never logged or sent.
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
