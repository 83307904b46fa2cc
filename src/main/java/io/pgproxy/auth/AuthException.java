package io.pgproxy.auth;

/**
 * Authentication failed or was malformed. {@link #sqlState()} is what the proxy sends the client:
 * {@code 28P01} wrong password, {@code 28000} not allowed or unknown, {@code 08P01} malformed
 * SASL/SCRAM message. The message is safe to show a client: it never contains secrets.
 */
public final class AuthException extends Exception {

    private final String sqlState;

    public AuthException(String sqlState, String message) {
        super(message);
        this.sqlState = sqlState;
    }

    public String sqlState() {
        return sqlState;
    }

    // A stack trace is never useful to the client and costs time on every failed login.
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
