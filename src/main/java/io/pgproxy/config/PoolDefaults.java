package io.pgproxy.config;

import java.time.Duration;
import java.util.Objects;

/** Pool settings shared by all databases; a database may override mode and size. */
public record PoolDefaults(PoolMode mode,
                           int size,
                           String resetQuery,
                           Duration serverIdleTimeout,
                           Duration serverLifetime,
                           Duration serverConnectTimeout,
                           Duration waitTimeout,
                           int minSize,
                           int reserveSize,
                           Duration reserveTimeout,
                           int maxPreparedStatements,
                           SessionIsolation sessionIsolation) {
    public PoolDefaults {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(resetQuery, "resetQuery");
        Objects.requireNonNull(serverIdleTimeout, "serverIdleTimeout");
        Objects.requireNonNull(serverLifetime, "serverLifetime");
        Objects.requireNonNull(serverConnectTimeout, "serverConnectTimeout");
        Objects.requireNonNull(waitTimeout, "waitTimeout");
        Objects.requireNonNull(reserveTimeout, "reserveTimeout");
        Objects.requireNonNull(sessionIsolation, "sessionIsolation");
    }
}
