package io.pgproxy.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The whole validated configuration. Maps are keyed by user name and by the database name clients
 * ask for, in the order of the configuration file. {@code adminUsers} may use every admin console
 * command, {@code statsUsers} only its SHOW commands.
 */
public record ProxyConfig(ListenConfig listen,
                          Limits limits,
                          PoolDefaults pool,
                          Map<String, UserConfig> users,
                          Map<String, DatabaseConfig> databases,
                          java.time.Duration statsPeriod,
                          java.util.Set<String> adminUsers,
                          java.util.Set<String> statsUsers) {
    /** Without admin console roles: nobody may use the console. */
    public ProxyConfig(ListenConfig listen, Limits limits, PoolDefaults pool, Map<String, UserConfig> users,
                       Map<String, DatabaseConfig> databases, java.time.Duration statsPeriod) {
        this(listen, limits, pool, users, databases, statsPeriod, java.util.Set.of(), java.util.Set.of());
    }

    public ProxyConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(statsPeriod, "statsPeriod");
        // Map.copyOf would lose the file order, which operators expect in listings and logs.
        users = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(users, "users")));
        databases = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(databases, "databases")));
        adminUsers = Collections.unmodifiableSet(new java.util.LinkedHashSet<>(Objects.requireNonNull(adminUsers, "adminUsers")));
        statsUsers = Collections.unmodifiableSet(new java.util.LinkedHashSet<>(Objects.requireNonNull(statsUsers, "statsUsers")));
    }
}
