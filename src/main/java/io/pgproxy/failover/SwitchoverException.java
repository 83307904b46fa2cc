package io.pgproxy.failover;

/** A switchover could not be done; the SQLSTATE and message go to the console that asked. */
public final class SwitchoverException extends Exception {
    private final String sqlState;

    public SwitchoverException(String sqlState, String message) {
        super(message);
        this.sqlState = sqlState;
    }

    public String sqlState() {
        return sqlState;
    }
}
