package io.pgproxy.pool;

import io.pgproxy.auth.ScramKeyStore;
import io.pgproxy.backend.BackendAuthLimits;
import io.pgproxy.backend.BackendCredentials;
import io.pgproxy.backend.BackendException;
import io.pgproxy.config.HostAddress;
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
import java.util.List;
import java.util.function.Function;
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

    /**
     * A pool's key. Hosts are not part of it: a database moved to other hosts (a reload, a
     * failover) keeps its pools, whose connections follow the database's {@link PrimarySource}.
     */
    private record Route(DatabaseConfig database, String backendUser) {
        private static final List<HostAddress> ANY_HOST = List.of(new HostAddress("*", 1));

        static Route of(DatabaseConfig database, String backendUser) {
            return new Route(database.withHosts(ANY_HOST), backendUser);
        }
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
    /** Each database's hosts: where its pools connect now. */
    private final Function<DatabaseConfig, PrimarySource> hosts;
    /** PAUSE without a database; each database's gate is a child of it. */
    private final PauseGate gate = PauseGate.root();
    private final Map<String, PauseGate> databaseGates = new ConcurrentHashMap<>();

    public LeaseManager(ProxyConfig config, BackendTlsContexts tls, ScramKeyStore scramKeys, BufferPool buffers,
                        ReplyClock clock, Function<DatabaseConfig, PrimarySource> hosts) {
        this.hosts = hosts;
        this.config = config;
        this.tls = tls;
        this.logins = new BackendLogins(scramKeys);
        this.buffers = buffers;
        this.clock = clock;
    }

    /** The pool serving {@code clientUser} on {@code database}. */
    public Pool pool(DatabaseConfig database, String clientUser) {
        String backendUser = database.user() != null ? database.user() : clientUser;
        return pools.computeIfAbsent(Route.of(database, backendUser), r -> newPool(database, backendUser));
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
        return new Pool(database.name(), target, hosts.apply(database), buffers, clock, settings(database), db, user,
                () -> evictIdleSharing(database.name(), backendUser), gate(database.name()));
    }

    /**
     * Where and as whom the auth query logs in: {@code database}'s backend, its sslmode and
     * require-auth, as {@code authUser} with {@code authPassword} (null: none), within the pool
     * connect timeout. Only user and database go in its StartupMessage.
     *
     * @throws BackendException the database is a cluster without a primary now
     */
    public BackendTarget authQueryTarget(DatabaseConfig database, String authUser, String authPassword)
            throws BackendException {
        return standaloneTarget(database, authUser, authPassword, hosts.apply(database).primary());
    }

    /**
     * A login of its own to one of {@code database}'s hosts, outside any pool: the auth query, a
     * health check. The database's sslmode and require-auth apply as for the pools.
     */
    public BackendTarget standaloneTarget(DatabaseConfig database, String user, String password, HostAddress host) {
        Limits limits = config.limits();
        BackendTlsContext settings = tls.get(database.tls());
        BackendCredentials credentials = password == null ? BackendCredentials.NONE
                : BackendCredentials.password(password);
        return new BackendTarget(host.host(), host.port(), database.dbname(), user, () -> credentials,
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
                d.maxPreparedStatements(), d.sessionIsolation(), database.transactionReplay());
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
            if (current == null || !route.equals(Route.of(current, route.backendUser()))) {
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

    /**
     * The pools of {@code database}, retired ones too: what a switchover drains and a new
     * primary reconnects.
     */
    public List<Pool> pools(String database) {
        return pools.entrySet().stream().filter(e -> e.getKey().database().name().equals(database))
                .map(Map.Entry::getValue).toList();
    }

    public Collection<Pool> pools() {
        return pools.values();
    }

    public void closeIdle() {
        pools.values().forEach(Pool::closeIdle);
    }
}
