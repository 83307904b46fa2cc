package io.pgproxy.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Bounds that protect the proxy from clients and backends. A zero duration means "no timeout"
 * where the option allows it (client idle, query and idle-in-transaction timeouts).
 */
public record Limits(int maxClients,
                     int maxMessageSize,
                     int maxStartupPacketSize,
                     Duration startupTimeout,
                     Duration clientIdleTimeout,
                     Duration shutdownTimeout,
                     int maxScramIterations,
                     Duration queryTimeout,
                     Duration idleTransactionTimeout) {
    public Limits {
        Objects.requireNonNull(startupTimeout, "startupTimeout");
        Objects.requireNonNull(clientIdleTimeout, "clientIdleTimeout");
        Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
        Objects.requireNonNull(queryTimeout, "queryTimeout");
        Objects.requireNonNull(idleTransactionTimeout, "idleTransactionTimeout");
    }
}
