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

    public ClientRefusedException(RefusalReason reason, String sqlState, String message) {
        super(message);
        this.reason = reason;
        this.sqlState = sqlState;
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
