package io.pgproxy.protocol;

import java.io.IOException;

/**
 * The peer broke the protocol: a malformed, oversized or unexpected message. The session that
 * saw it answers with an ErrorResponse carrying {@link #sqlState()} where the protocol still
 * allows one, and closes; no other session is affected.
 */
public final class ProtocolException extends IOException {
    public static final String PROTOCOL_VIOLATION = "08P01";

    private final String sqlState;

    public ProtocolException(String message) {
        this(PROTOCOL_VIOLATION, message);
    }

    public ProtocolException(String sqlState, String message) {
        super(message);
        this.sqlState = sqlState;
    }

    public String sqlState() {
        return sqlState;
    }
}
