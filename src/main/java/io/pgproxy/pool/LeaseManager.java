package io.pgproxy.pool;

import io.pgproxy.auth.ScramKeyStore;
import io.pgproxy.backend.BackendAuthLimits;
import io.pgproxy.backend.BackendCredentials;
import io.pgproxy.backend.BackendTarget;
import io.pgproxy.buffer.BufferPool;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.Limits;
import io.pgproxy.config.PoolDefaults;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.tls.BackendTlsContext;
import io.pgproxy.tls.BackendTlsContexts;
import io.pgproxy.session.ReplyClock;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hands out pools by route. A route is the database's whole configuration plus the backend
 * user, so a reload that changes a database's host or credentials makes a new pool for new
 * clients while sessions on the old one finish undisturbed. Connection limits per database and
 * per backend user span all pools that share them.
 */
public final class LeaseManager {
    /** Bounds the reset and rollback a backend runs between clients. */
    private static final Duration INTERNAL_QUERY_TIMEOUT = Duration.ofSeconds(10);

    private record Route(DatabaseConfig database, String backendUser) {
    }

    private final BufferPool buffers;
    private final ReplyClock clock;
    private final Map<Route, Pool> pools = new ConcurrentHashMap<>();
    private final Map<String, ConnectionBudget> databaseBudgets = new ConcurrentHashMap<>();
    private final Map<String, ConnectionBudget> userBudgets = new ConcurrentHashMap<>();
    private volatile ProxyConfig config;
    /** The backend SSL contexts of {@link #config}; replaced with it. */
    private volatile BackendTlsContexts tls;
    private final BackendLogins logins;
    /** PAUSE without a database; each database's gate is a child of it. */
    private final PauseGate gate = PauseGate.root();
    private final Map<String, PauseGate> databaseGates = new ConcurrentHashMap<>();

    public LeaseManager(ProxyConfig config, BackendTlsContexts tls, ScramKeyStore scramKeys, BufferPool buffers,
                        ReplyClock clock) {
        this.config = config;
        this.tls = tls;
        this.logins = new BackendLogins(scramKeys);
        this.buffers = buffers;
        this.clock = clock;
    }

    /** The pool serving {@code clientUser} on {@code database}. */
    public Pool pool(DatabaseConfig database, String clientUser) {
        String backendUser = database.user() != null ? database.user() : clientUser;
        return pools.computeIfAbsent(new Route(database, backendUser), r -> newPool(database, backendUser));
    }

    private Pool newPool(DatabaseConfig database, String backendUser) {
        PoolDefaults d = config.pool();
        Limits limits = config.limits();
        // A retired pool may still connect while it drains; its settings may be gone from the new snapshot.
        BackendTlsContext initial = tls.get(database.tls());
        BackendTarget target = new BackendTarget(database.host(), database.port(), database.dbname(),
                backendUser, () -> logins.credentials(config, database, backendUser), d.serverConnectTimeout(),
                new BackendAuthLimits(limits.maxScramIterations(), limits.maxScramNonceLength(),
                        limits.maxBackendAuthMessageSize()),
                () -> tls.find(database.tls(), initial), database.requireAuth());
        ConnectionBudget db = databaseBudgets.computeIfAbsent(database.name(),
                n -> new ConnectionBudget(() -> config.limits().maxDbConnections()));
        ConnectionBudget user = userBudgets.computeIfAbsent(backendUser,
                n -> new ConnectionBudget(() -> config.limits().maxUserConnections()));
        return new Pool(database.name(), target, buffers, clock, settings(database), db, user,
                () -> evictIdleSharing(database.name(), backendUser), gate(database.name()));
    }

    /**
     * Where and as whom the auth query logs in: {@code database}'s backend, its sslmode and
     * require-auth, as {@code authUser} with {@code authPassword} (null: none), within the pool
     * connect timeout. Only user and database go in its StartupMessage.
     */
    public BackendTarget authQueryTarget(DatabaseConfig database, String authUser, String authPassword) {
        Limits limits = config.limits();
        BackendTlsContext settings = tls.get(database.tls());
        BackendCredentials credentials = authPassword == null ? BackendCredentials.NONE
                : BackendCredentials.password(authPassword);
        return new BackendTarget(database.host(), database.port(), database.dbname(), authUser, () -> credentials,
                config.pool().serverConnectTimeout(), new BackendAuthLimits(limits.maxScramIterations(),
                limits.maxScramNonceLength(), limits.maxBackendAuthMessageSize()), () -> settings,
                database.requireAuth());
    }

    /** Where users' SCRAM logins leave their passthrough keys for the pools. */
    public ScramKeyStore scramKeys() {
        return logins.scramKeys();
    }

    /** The proxy-wide PAUSE gate. */
    public PauseGate gate() {
        return gate;
    }

    /** The PAUSE gate of one database, shared by its pools, including those not created yet. */
    public PauseGate gate(String database) {
        return databaseGates.computeIfAbsent(database, n -> gate.child());
    }

    private PoolSettings settings(DatabaseConfig database) {
        PoolDefaults d = config.pool();
        return new PoolSettings(database.poolSize(), d.waitTimeout(), d.resetQuery(), d.serverIdleTimeout(),
                d.serverLifetime(), INTERNAL_QUERY_TIMEOUT, d.minSize(), d.reserveSize(), d.reserveTimeout(),
                d.maxPreparedStatements(), d.sessionIsolation());
    }

    /** Closes one idle connection of a pool that shares the database or the user. */
    private boolean evictIdleSharing(String database, String backendUser) {
        for (Map.Entry<Route, Pool> e : pools.entrySet()) {
            Route r = e.getKey();
            boolean shares = r.database().name().equals(database) || r.backendUser().equals(backendUser);
            if (shares && e.getValue().evictOneIdle()) {
                return true;
            }
        }
        return false;
    }

    /** Applies a new configuration: pools whose database is gone or changed are retired. */
    public void reconfigure(ProxyConfig next, BackendTlsContexts nextTls) {
        this.tls = nextTls;
        this.config = next;
        logins.reconfigure(next);
        pools.forEach((route, pool) -> {
            pool.settings(settings(route.database()));
            DatabaseConfig current = next.databases().get(route.database().name());
            if (!route.database().equals(current)) {
                pool.retire();
            }
        });
    }

    /** Janitor work: expired waits, idle timeouts, lifetimes, minimum sizes, and forgetting retired pools once empty. */
    public void maintain() {
        long now = System.nanoTime();
        pools.forEach((route, pool) -> {
            pool.expireWaiters(now);
            pool.evictIdle();
            pool.warmUp();
            if (pool.isRetired() && pool.openConnections() == 0) {
                pools.remove(route, pool);
            }
        });
    }

    /**
     * Creates the pools whose backend user is fixed by the configuration, so that their
     * minimum size is kept before any client arrives.
     */
    public void createConfiguredPools() {
        config.databases().values().stream().filter(d -> d.user() != null).forEach(d -> pool(d, d.user()));
    }

    public Collection<Pool> pools() {
        return pools.values();
    }

    public void closeIdle() {
        pools.values().forEach(Pool::closeIdle);
    }
}
