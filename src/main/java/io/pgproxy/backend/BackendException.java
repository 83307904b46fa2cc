package io.pgproxy.backend;

import io.pgproxy.protocol.message.ErrorResponse;

import java.io.IOException;

/**
 * A backend could not be used: unreachable, refused the login, or broke the protocol. Carries
 * the ErrorResponse to give the client: the backend's own, or one the proxy made (08001).
 */
public final class BackendException extends IOException {
    private final transient ErrorResponse error;
    /** The backend itself refused the login before authenticating us: sslmode allow/prefer try the other way. */
    private final boolean refusedLogin;

    public BackendException(ErrorResponse error, Throwable cause) {
        this(error, cause, false);
    }

    BackendException(ErrorResponse error, Throwable cause, boolean refusedLogin) {
        super(error.sqlState() + " " + error.message(), cause);
        this.error = error;
        this.refusedLogin = refusedLogin;
    }

    public ErrorResponse error() {
        return error;
    }

    boolean refusedLogin() {
        return refusedLogin;
    }
}
