package io.pgproxy.backend;

import io.pgproxy.config.RequireAuth;
import io.pgproxy.tls.BackendTlsContext;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Where and as whom to connect, and how. Credentials and the TLS context are asked for at each
 * connect: a user's passthrough keys arrive with its SCRAM login, and a reload brings new TLS
 * material without retiring the pool. Secrets are used for authentication only and never printed.
 */
public record BackendTarget(String host, int port, String database, String user,
                            Supplier<BackendCredentials> credentials, Duration connectTimeout,
                            BackendAuthLimits limits, Supplier<BackendTlsContext> tls, RequireAuth requireAuth) {
    public BackendTarget {
        Objects.requireNonNull(credentials, "credentials");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(requireAuth, "requireAuth");
    }

    /** The same login at another server: a cluster's new primary. */
    public BackendTarget at(String otherHost, int otherPort) {
        return new BackendTarget(otherHost, otherPort, database, user, credentials, connectTimeout, limits, tls,
                requireAuth);
    }

    @Override
    public String toString() {
        return user + "@" + host + ":" + port + "/" + database;
    }
}
