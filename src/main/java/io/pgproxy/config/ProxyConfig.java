package io.pgproxy.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The whole validated configuration. Maps are keyed by user name and by the database name clients
 * ask for, in the order of the configuration file.
 */
public record ProxyConfig(ListenConfig listen,
                          Limits limits,
                          PoolDefaults pool,
                          Map<String, UserConfig> users,
                          Map<String, DatabaseConfig> databases,
                          java.time.Duration statsPeriod,
                          MetricsConfig metrics) {
    public ProxyConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(statsPeriod, "statsPeriod");
        Objects.requireNonNull(metrics, "metrics");
        // Map.copyOf would lose the file order, which operators expect in listings and logs.
        users = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(users, "users")));
        databases = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(databases, "databases")));
    }
}
