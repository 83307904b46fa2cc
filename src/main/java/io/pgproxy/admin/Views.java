package io.pgproxy.admin;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.BackendState;
import io.pgproxy.client.ClientSession;
import io.pgproxy.client.ClientState;
import io.pgproxy.client.ConsoleSession;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.PoolMode;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;
import io.pgproxy.pool.Pool;
import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.server.ProxyServer;

import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static io.pgproxy.admin.Result.int4;
import static io.pgproxy.admin.Result.int8;
import static io.pgproxy.admin.Result.text;

/**
 * The SHOW commands, with PgBouncer's column names, types and meanings where the concept is the
 * same; pgproxy's own columns come after PgBouncer's. Everything is read from the states the
 * sessions, backends and pools keep, at the moment of the command.
 */
final class Views {
    private static final String HELP = """
            SHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|HOSTS|VERSION|LISTS
            SHOW STATS|STATS_TOTALS|STATS_AVERAGES
            PAUSE [<db>]
            RESUME [<db>]
            RECONNECT [<db>]
            KILL [<db>]
            RELOAD
            SHUTDOWN
            WAIT_CLOSE [<db>]
            SWITCHOVER <db> [<host:port>]""";

    private final ProxyServer server;
    private final Sockets sockets;
    private final Stats stats;

    Views(ProxyServer server) {
        this.server = server;
        this.sockets = new Sockets(server);
        this.stats = new Stats(server);
    }

    /** pgproxy's version from the jar's manifest; "dev" when run from classes (tests). */
    static String version() {
        String v = Views.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.0.0-dev";
    }

    byte[] show(String what, ConsoleSession session, String query) throws ConsoleError {
        Result r = switch (what) {
            case "pools" -> pools();
            case "clients" -> sockets.clients();
            case "servers" -> sockets.servers();
            case "databases" -> databases();
            case "hosts" -> hosts();
            case "users" -> users();
            case "stats" -> stats.stats();
            case "stats_totals" -> stats.totals();
            case "stats_averages" -> stats.averages();
            case "config" -> ConfigView.show(server.config());
            case "lists" -> lists();
            case "version" -> new Result(text("version")).row("pgproxy " + version());
            case "help" -> null;
            default -> throw AdminConsole.syntaxError(query);
        };
        if (r == null) {
            return help();
        }
        return r.encode("SHOW");
    }

    private static byte[] help() {
        return new MessageBuilder().begin((byte) 'N')
                .int8('S').cstring("NOTICE").int8('V').cstring("NOTICE").int8('C').cstring("00000")
                .int8('M').cstring("Console usage").int8('D').cstring(HELP).int8(0).end()
                .begin((byte) 'C').cstring("SHOW").end().toByteArray();
    }

    /**
     * One row per pool. As in PgBouncer, cl_active counts every logged-in client of the pool
     * that is not waiting for a backend, whether it holds one or not.
     */
    private Result pools() {
        Result r = new Result(text("database"), text("user"), int4("cl_active"), int4("cl_waiting"),
                int4("cl_active_cancel_req"), int4("cl_waiting_cancel_req"), int4("sv_active"),
                int4("sv_active_cancel"), int4("sv_being_canceled"), int4("sv_idle"), int4("sv_used"),
                int4("sv_tested"), int4("sv_login"), int4("maxwait"), int4("maxwait_us"), text("pool_mode"),
                text("load_balance_hosts"),
                // pgproxy's own
                int4("cl_pinned"), int4("paused"));
        ProxyConfig config = server.config();
        Map<Pool, int[]> clients = new java.util.HashMap<>();
        Map<Pool, Long> oldestWait = new java.util.HashMap<>();
        long now = System.nanoTime();
        Map<String, Integer> console = new TreeMap<>();
        for (ClientSession s : server.registry().sessions()) {
            Pool p = s.pool();
            ClientState st = s.state();
            if (p == null) {
                if (AdminConsole.NAMES.contains(s.database()) && st != ClientState.CLOSING) {
                    console.merge(s.database(), 1, Integer::sum);
                }
                continue;
            }
            int[] c = clients.computeIfAbsent(p, k -> new int[3]);
            switch (st) {
                case IDLE, ACTIVE -> c[0]++;
                case PINNED -> {
                    c[0]++;
                    c[2]++;
                }
                case WAITING -> {
                    c[1]++;
                    oldestWait.merge(p, Math.max(0, (now - s.waitingSinceNanos()) / 1000), Math::max);
                }
                default -> {
                }
            }
        }
        for (Pool p : sortedPools()) {
            int[] c = clients.getOrDefault(p, new int[3]);
            long maxWait = oldestWait.getOrDefault(p, 0L);
            int[] sv = new int[BackendState.values().length];
            for (BackendConnection b : p.connections()) {
                sv[b.state().ordinal()]++;
            }
            r.row(p.name(), p.target().user(), c[0], c[1], 0, 0, sv[BackendState.ACTIVE.ordinal()], 0, 0,
                    sv[BackendState.IDLE.ordinal()], sv[BackendState.RESETTING.ordinal()], 0,
                    sv[BackendState.CONNECTING.ordinal()] + sv[BackendState.LOGGING_IN.ordinal()],
                    maxWait / 1_000_000, maxWait % 1_000_000,
                    poolMode(config, p.name(), p.target().user()), null, c[2], p.gate().isPaused() ? 1 : 0);
        }
        console.forEach((db, n) -> r.row(db, "pgbouncer", n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "statement", null, 0, 0));
        return r;
    }

    static String poolMode(ProxyConfig config, String database, String user) {
        UserConfig u = config.users().get(user);
        DatabaseConfig d = config.databases().get(database);
        PoolMode m = u != null && u.mode() != null ? u.mode() : d != null ? d.mode() : config.pool().mode();
        return m.name().toLowerCase(Locale.ROOT);
    }

    private List<Pool> sortedPools() {
        return server.leases().pools().stream()
                .sorted(java.util.Comparator.comparing(Pool::name).thenComparing(p -> p.target().user())).toList();
    }

    private Result databases() {
        Result r = new Result(text("name"), text("host"), int4("port"), text("database"), text("force_user"),
                int4("pool_size"), int4("min_pool_size"), int4("reserve_pool_size"), int4("server_lifetime"),
                text("pool_mode"), text("load_balance_hosts"), int4("max_connections"), int4("current_connections"),
                int4("max_client_connections"), int4("current_client_connections"), int4("paused"), int4("disabled"));
        ProxyConfig c = server.config();
        Collection<ClientSession> sessions = server.registry().sessions();
        for (DatabaseConfig d : c.databases().values()) {
            int open = server.leases().pools().stream().filter(p -> p.name().equals(d.name()))
                    .mapToInt(Pool::openConnections).sum();
            long clients = sessions.stream().filter(s -> s.pool() != null && s.database().equals(d.name())
                    && s.state() != ClientState.CLOSING).count();
            io.pgproxy.failover.Cluster cluster = server.failover().cluster(d.name());
            io.pgproxy.config.HostAddress at = cluster != null && cluster.currentPrimary() != null
                    ? cluster.currentPrimary() : d.hosts().getFirst();
            r.row(d.name(), at.host(), at.port(), d.dbname(), d.user(), d.poolSize(), c.pool().minSize(),
                    c.pool().reserveSize(), c.pool().serverLifetime().toSeconds(), d.mode().name().toLowerCase(Locale.ROOT),
                    null, c.limits().maxDbConnections(), open, c.limits().maxDbClients(), clients,
                    server.leases().gate(d.name()).isPaused() ? 1 : 0, 0);
        }
        for (String name : new java.util.TreeSet<>(AdminConsole.NAMES)) {
            long clients = sessions.stream().filter(s -> s.pool() == null && s.database().equals(name)
                    && s.state() != ClientState.CLOSING).count();
            r.row(name, null, server.port(), name, "pgbouncer", 2, 0, 0, 0, "statement", null, 0, 0,
                    c.limits().maxClients(), clients, 0, 0);
        }
        return r;
    }

    /** Each database's hosts: what their checks say and which is the primary (PgBouncer has none; PgDog shows a role). */
    private Result hosts() {
        Result r = new Result(text("database"), text("host"), int4("port"), text("role"), text("state"),
                int4("primary"), int4("checked"), int8("checks"), int8("failed_checks"), text("last_error"),
                int8("lag_bytes"));
        for (io.pgproxy.failover.Cluster c : server.failover().clusters().stream()
                .sorted(java.util.Comparator.comparing(io.pgproxy.failover.Cluster::database)).toList()) {
            io.pgproxy.config.HostAddress primary = c.currentPrimary();
            for (io.pgproxy.failover.HostHealth h : c.hosts()) {
                r.row(c.database(), h.address().host(), h.address().port(), h.role().label(), h.state().label(),
                        h.address().equals(primary) ? 1 : 0, c.isChecked() ? 1 : 0, h.checks(), h.failures(),
                        h.lastError(), h.role() == io.pgproxy.failover.HostRole.STANDBY ? c.lagOf(h) : 0);
            }
        }
        return r;
    }

    private Result users() {
        Result r = new Result(text("name"), text("pool_size"), text("reserve_pool_size"), text("pool_mode"),
                int4("max_user_connections"), int4("current_connections"), int4("max_user_client_connections"),
                int4("current_client_connections"));
        ProxyConfig c = server.config();
        for (UserConfig u : c.users().values()) {
            int open = server.leases().pools().stream().filter(p -> p.target().user().equals(u.name()))
                    .mapToInt(Pool::openConnections).sum();
            long clients = server.registry().sessions().stream()
                    .filter(s -> s.user().equals(u.name()) && s.state() != ClientState.CLOSING).count();
            r.row(u.name(), "", "", u.mode() == null ? "" : u.mode().name().toLowerCase(Locale.ROOT),
                    c.limits().maxUserConnections(), open, c.limits().maxUserClients(), clients);
        }
        return r;
    }

    private Result lists() {
        Result r = new Result(text("list"), int4("items"));
        ProxyConfig c = server.config();
        int used = server.registry().size();
        int open = server.leases().pools().stream().mapToInt(Pool::openConnections).sum();
        r.row("databases", c.databases().size() + AdminConsole.NAMES.size());
        r.row("users", c.users().size());
        r.row("peers", 0);
        r.row("pools", server.leases().pools().size());
        r.row("peer_pools", 0);
        r.row("free_clients", 0);
        r.row("used_clients", used);
        r.row("login_clients", Math.max(0, server.clientCount() - used));
        r.row("free_servers", 0);
        r.row("used_servers", open);
        r.row("dns_names", 0);
        r.row("dns_zones", 0);
        r.row("dns_queries", 0);
        r.row("dns_pending", 0);
        return r;
    }
}
