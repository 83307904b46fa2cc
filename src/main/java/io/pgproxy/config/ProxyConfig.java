package io.pgproxy.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The whole validated configuration. Maps are keyed by user name and by the database name clients
 * ask for, in the order of the configuration file. {@code adminUsers} may use every admin console
 * command, {@code statsUsers} only its SHOW commands. {@code clientTls} is TLS towards clients;
 * {@code auth} holds the hba rules, ident maps and auth query; {@code failover} how clusters of
 * hosts are watched.
 */
public record ProxyConfig(ListenConfig listen,
                          Limits limits,
                          PoolDefaults pool,
                          Map<String, UserConfig> users,
                          Map<String, DatabaseConfig> databases,
                          java.time.Duration statsPeriod,
                          MetricsConfig metrics,
                          java.util.Set<String> adminUsers,
                          java.util.Set<String> statsUsers,
                          ClientTlsConfig clientTls,
                          AuthConfig auth,
                          FailoverConfig failover) {
    public ProxyConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(statsPeriod, "statsPeriod");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(clientTls, "clientTls");
        Objects.requireNonNull(auth, "auth");
        Objects.requireNonNull(failover, "failover");
        // Map.copyOf would lose the file order, which operators expect in listings and logs.
        users = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(users, "users")));
        databases = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(databases, "databases")));
        adminUsers = Collections.unmodifiableSet(new java.util.LinkedHashSet<>(Objects.requireNonNull(adminUsers, "adminUsers")));
        statsUsers = Collections.unmodifiableSet(new java.util.LinkedHashSet<>(Objects.requireNonNull(statsUsers, "statsUsers")));
    }
}
