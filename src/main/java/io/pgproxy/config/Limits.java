package io.pgproxy.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Bounds that protect the proxy from clients and backends. A zero duration means "no timeout"
 * where the option allows it (client idle, query and idle-in-transaction timeouts); a zero
 * count means "no limit" for the per-database and per-user limits.
 */
public record Limits(int maxClients,
                     int maxMessageSize,
                     int maxStartupPacketSize,
                     Duration startupTimeout,
                     Duration clientIdleTimeout,
                     Duration shutdownTimeout,
                     int maxScramIterations,
                     Duration queryTimeout,
                     Duration idleTransactionTimeout,
                     int maxDbClients,
                     int maxUserClients,
                     int maxDbConnections,
                     int maxUserConnections,
                     int maxClientPreparedStatements,
                     int maxScramNonceLength,
                     int maxBackendAuthMessageSize) {
    public Limits {
        Objects.requireNonNull(startupTimeout, "startupTimeout");
        Objects.requireNonNull(clientIdleTimeout, "clientIdleTimeout");
        Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
        Objects.requireNonNull(queryTimeout, "queryTimeout");
        Objects.requireNonNull(idleTransactionTimeout, "idleTransactionTimeout");
    }
}
