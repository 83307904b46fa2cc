package io.pgproxy.server;

import io.pgproxy.auth.ScramKeyStore;
import io.pgproxy.auth.ScramVerifierCache;
import io.pgproxy.buffer.BufferPool;
import io.pgproxy.buffer.SlabBuffers;
import io.pgproxy.client.ClientContext;
import io.pgproxy.client.ClientCounters;
import io.pgproxy.client.ClientRegistry;
import io.pgproxy.client.ClientSession;
import io.pgproxy.client.UserDirectory;
import io.pgproxy.client.VirtualDatabase;
import io.pgproxy.config.ConfigDiff;
import io.pgproxy.config.ConfigException;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.failover.FailoverCoordinator;
import io.pgproxy.pool.LeaseManager;
import io.pgproxy.pool.Pool;
import io.pgproxy.pool.RefusalReason;
import io.pgproxy.session.PinReason;
import io.pgproxy.session.StatementRegistry;
import io.pgproxy.tls.BackendTlsContexts;
import io.pgproxy.tls.ServerTls;
import io.pgproxy.tls.TlsMaterialException;
import org.HdrHistogram.Histogram;
import io.pgproxy.protocol.message.ErrorResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.helpers.MessageFormatter;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The running proxy. Accepts clients and gives each its own virtual thread; a janitor enforces
 * the timeouts; {@link #reload} swaps the configuration snapshot without touching connected
 * clients; {@link #close} drains.
 */
public final class ProxyServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);
    /** Relay buffers: large enough for a run of replies, few enough to bound memory. */
    private static final int RELAY_BUFFER_SIZE = 32 * 1024;
    private static final int MAX_POOLED_BUFFERS = 1024;
    /** Holds a typical request whole (pgbench's are 60-200 bytes) while costing idle clients little. */
    private static final int REQUEST_BUFFER_SIZE = 256;
    private static final long JANITOR_PERIOD_MS = 200;
    /**
     * At most one log line per this period for clients refused at max-clients: an overloaded
     * proxy may refuse thousands a second, and a line each would add disk I/O to the overload.
     */
    private static final Duration MAX_CLIENTS_LOG_PERIOD = Duration.ofSeconds(10);

    private final ServerSocketChannel listener;
    private final LeaseManager leases;
    private final FailoverCoordinator failover;
    private final ClientRegistry registry = new ClientRegistry();
    private final ClientCounters counters = new ClientCounters();
    /** Leased by clients for one run of requests at a time. */
    private final BufferPool buffers = new BufferPool(RELAY_BUFFER_SIZE, MAX_POOLED_BUFFERS);
    /** One per connected client: its next request is read here (see {@link SlabBuffers}). */
    private final SlabBuffers requestBuffers = new SlabBuffers(REQUEST_BUFFER_SIZE, 512);
    /** Held by each backend connection's reader for the connection's life. */
    private final BufferPool backendBuffers = new BufferPool(RELAY_BUFFER_SIZE, MAX_POOLED_BUFFERS);
    private final Set<ClientSession> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger clients = new AtomicInteger();
    private final ScheduledExecutorService janitor;
    private volatile ProxyConfig config;
    /** TLS towards clients, from the snapshot in force; null when off. */
    private volatile ServerTls tls;
    private volatile boolean draining;
    /** The admin console, or null; set once before the listener starts. */
    private VirtualDatabase console;
    private long lastStatsNanos = System.nanoTime();
    /** Refusals at max-clients, all time and since the last line about them (listener thread only). */
    private long refusedAtMaxClients;
    private long refusedAtMaxClientsUnlogged;
    private long lastMaxClientsLogNanos;

    /** Prepared statements and the reply clock, shared by this server's clients and backends. */
    private final StatementRegistry statements = new StatementRegistry();

    private ProxyServer(ProxyConfig config, ServerTls tls, BackendTlsContexts backendTls, ServerSocketChannel listener) {
        this.config = config;
        this.tls = tls;
        this.listener = listener;
        this.failover = new FailoverCoordinator(config);
        this.leases = new LeaseManager(config, backendTls, new ScramKeyStore(), backendBuffers, statements.clock(),
                failover::source);
        this.failover.start(leases);
        this.leases.createConfiguredPools();
        this.janitor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pgproxy-janitor");
            t.setDaemon(true);
            return t;
        });
    }

    /** Binds the listen address and starts accepting. */
    public static ProxyServer start(ProxyConfig config) throws IOException {
        return start(config, server -> null);
    }

    /**
     * As {@link #start(ProxyConfig)}, with a virtual database (the admin console, made from the
     * server it watches) in place before the first client is accepted.
     */
    public static ProxyServer start(ProxyConfig config,
                                    java.util.function.Function<ProxyServer, VirtualDatabase> console) throws IOException {
        ServerTls tls;
        BackendTlsContexts backendTls;
        try {
            tls = ServerTls.load(config.clientTls());
            backendTls = BackendTlsContexts.build(config, System::getenv);
        } catch (TlsMaterialException e) {
            throw new IOException("pgproxy.client-tls: " + e.getMessage(), e);
        } catch (ConfigException e) {
            throw new IOException("configuration error: " + e.getMessage(), e);
        }
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(new InetSocketAddress(config.listen().host(), config.listen().port()), 4096);
        } catch (IOException e) {
            ch.close();
            throw new IOException("cannot listen on " + config.listen().host() + ":" + config.listen().port()
                    + ": " + e.getMessage(), e);
        }
        ProxyServer server = new ProxyServer(config, tls, backendTls, ch);
        server.console = console.apply(server);
        Thread.ofPlatform().name("pgproxy-listener").daemon(false).start(server::acceptLoop);
        server.janitor.scheduleWithFixedDelay(server::janitorTick, JANITOR_PERIOD_MS, JANITOR_PERIOD_MS,
                TimeUnit.MILLISECONDS);
        log.info("listening on {}:{}", config.listen().host(), server.port());
        return server;
    }

    public int port() {
        try {
            return ((InetSocketAddress) listener.getLocalAddress()).getPort();
        } catch (IOException e) {
            return -1;
        }
    }

    public ProxyConfig config() {
        return config;
    }

    /** Clusters, their health and primaries; switchovers. */
    public FailoverCoordinator failover() {
        return failover;
    }

    public LeaseManager leases() {
        return leases;
    }

    /** The logged-in clients (the admin console's SHOW CLIENTS). */
    public ClientRegistry registry() {
        return registry;
    }

    /** The buffers clients lease per run of requests; none are held by idle clients. */
    public BufferPool buffers() {
        return buffers;
    }

    /** Connected clients, logged in or not. */
    public int clientCount() {
        return clients.get();
    }

    /** Every connected client session, logged in or not (a live view). */
    public java.util.Collection<ClientSession> sessions() {
        return java.util.Collections.unmodifiableSet(sessions);
    }

    /** Refusals and the errors the proxy sent itself, since start. */
    public ClientCounters counters() {
        return counters;
    }

    /** Listening for new clients: started and not draining. */
    public boolean isAccepting() {
        return !draining && listener.isOpen();
    }

    /**
     * Applies a new configuration to new logins and new leases. Clients already connected keep
     * their backends; removed databases stop taking new clients. Keys that need a restart keep
     * their running values in the snapshot put in force. TLS files are read again (a renewed
     * certificate at the same path is taken); one that cannot be used refuses the whole reload,
     * and the material in force keeps serving. Returns what changed.
     */
    public ConfigDiff reload(ProxyConfig requested) throws ConfigException {
        ServerTls nextTls;
        try {
            nextTls = ServerTls.load(requested.clientTls());
        } catch (TlsMaterialException e) {
            throw new ConfigException("pgproxy.client-tls", e.getMessage());
        }
        ConfigDiff diff = ConfigDiff.between(config, requested);
        ProxyConfig next = ConfigDiff.applicable(config, requested);
        // Built before anything changes: a certificate file that cannot be used refuses the
        // whole reload, and the running material keeps serving.
        BackendTlsContexts backendTls = BackendTlsContexts.build(next, System::getenv);
        for (String key : diff.restartRequired()) {
            log.warn("reload: {} cannot change while running; the change applies after a restart", key);
        }
        diff.addedDatabases().forEach(d -> log.info("reload: database \"{}\" added", d));
        diff.removedDatabases().forEach(d -> log.info("reload: database \"{}\" removed; its clients may finish", d));
        diff.changedDatabases().forEach(d -> log.info("reload: database \"{}\" changed; new clients use the new settings", d));
        diff.addedUsers().forEach(u -> log.info("reload: user \"{}\" added", u));
        diff.removedUsers().forEach(u -> log.info("reload: user \"{}\" removed", u));
        diff.changedUsers().forEach(u -> log.info("reload: user \"{}\" changed", u));
        if (!config.auth().equals(next.auth())) {
            log.info("reload: hba rules, ident maps or auth query changed; new logins use them");
        }
        config = next;
        tls = nextTls;
        leases.reconfigure(next, backendTls);
        failover.reconfigure(next);
        leases.createConfiguredPools();
        log.info("reload: configuration applied");
        return diff;
    }

    private void acceptLoop() {
        ClientContext context = new ClientContext(() -> config, new ScramVerifierCache(), new UserDirectory(leases), leases, registry,
                buffers, requestBuffers, statements, counters, console, () -> tls);
        while (true) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                break;
            } catch (IOException e) {
                // Out of file descriptors, mostly: keep the listener, back off briefly.
                log.warn("accept failed: {}", e.getMessage());
                pauseAfterAcceptFailure();
                continue;
            }
            if (clients.incrementAndGet() > config.limits().maxClients()) {
                clients.decrementAndGet();
                logRefusedAtMaxClients(ch);
                counters.refused(RefusalReason.MAX_CLIENTS);
                counters.errorSent("53300");
                refuse(ch, ErrorResponse.fatal("53300", "sorry, too many clients already"));
                continue;
            }
            try {
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            } catch (IOException e) {
                log.debug("cannot set TCP_NODELAY: {}", e.getMessage());
            }
            ClientSession session = new ClientSession(context, ch);
            sessions.add(session);
            Thread.ofVirtual().name("pgproxy-" + session.id()).start(() -> {
                try {
                    session.run();
                } finally {
                    sessions.remove(session);
                    clients.decrementAndGet();
                }
            });
        }
    }

    /**
     * Logs the first refusal at max-clients, then at most one line per
     * {@link #MAX_CLIENTS_LOG_PERIOD} with the number refused since.
     */
    private void logRefusedAtMaxClients(SocketChannel ch) {
        refusedAtMaxClients++;
        refusedAtMaxClientsUnlogged++;
        long now = System.nanoTime();
        if (refusedAtMaxClients > 1 && now - lastMaxClientsLogNanos < MAX_CLIENTS_LOG_PERIOD.toNanos()) {
            return;
        }
        String from;
        try {
            from = String.valueOf(ch.getRemoteAddress());
        } catch (IOException e) {
            from = "?";
        }
        log.atLevel(RefusalReason.MAX_CLIENTS.level()).log(
                "refused ({}): {} client(s) since the last such line, the latest from {}; max-clients is {}",
                RefusalReason.MAX_CLIENTS.description(), refusedAtMaxClientsUnlogged, from,
                config.limits().maxClients());
        refusedAtMaxClientsUnlogged = 0;
        lastMaxClientsLogNanos = now;
    }

    private static void pauseAfterAcceptFailure() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void refuse(SocketChannel ch, ErrorResponse error) {
        try (ch) {
            ch.configureBlocking(false);
            ch.write(ByteBuffer.wrap(error.encode()));
        } catch (IOException ignored) {
            // The refused client is gone already.
        }
    }

    private void janitorTick() {
        try {
            ProxyConfig c = config;
            long now = System.nanoTime();
            for (ClientSession s : sessions) {
                if (s.startupExpired(now, c.limits().startupTimeout())) {
                    log.info("{} startup timeout ({} ms), closing", s.id(), c.limits().startupTimeout().toMillis());
                    s.terminate(ErrorResponse.fatal("08P01", "timeout during startup or authentication"));
                } else if (s.idleExpired(now, c.limits().clientIdleTimeout())) {
                    log.info("{} idle timeout, closing", s.id());
                    s.terminate(ErrorResponse.fatal("57P05", "terminating connection due to idle timeout"));
                } else if (s.idleInTransactionExpired(now, c.limits().idleTransactionTimeout())) {
                    log.info("{} idle-in-transaction timeout, closing", s.id());
                    s.terminate(ErrorResponse.fatal("25P03",
                            "terminating connection due to idle-in-transaction timeout"));
                } else if (draining && s.isIdle()) {
                    s.terminate(ErrorResponse.fatal("57P01", "terminating connection due to administrator command")
                            .withHint("pgproxy is shutting down"));
                } else {
                    s.cancelIfRunningLongerThan(now, c.limits().queryTimeout());
                }
            }
            leases.maintain();
            if (!c.statsPeriod().isZero() && now - lastStatsNanos >= c.statsPeriod().toNanos()) {
                lastStatsNanos = now;
                logStats();
            }
        } catch (RuntimeException e) {
            log.error("janitor failed", e);
        }
    }

    /**
     * Stops accepting, closes clients as they become idle, waits up to {@code timeout} for the
     * rest, then closes them too.
     */
    public void drain(Duration timeout) {
        if (draining) {
            return;
        }
        draining = true;
        log.info("shutting down: {} clients connected, waiting up to {} ms", clients.get(), timeout.toMillis());
        try {
            listener.close();
        } catch (IOException e) {
            log.debug("closing listener: {}", e.getMessage());
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!sessions.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(JANITOR_PERIOD_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (ClientSession s : sessions) {
            s.terminate(ErrorResponse.fatal("57P01", "terminating connection due to administrator command"));
        }
        janitor.shutdownNow();
        failover.stop();
        logStats();
        leases.closeIdle();
        log.info("shut down");
    }

    /** One line per pool and one for pins: what flows through, without parsing SQL. */
    public void logStats() {
        statsLines().forEach(log::info);
    }

    /**
     * The lines {@link #logStats} logs. Each pool's line counts the clients logged in to that
     * pool, not the whole proxy's. Takes each pool's wait histogram, so the next call covers the
     * period since this one.
     */
    public List<String> statsLines() {
        // Counted from the sessions instead of kept by each pool: once per stats period, a few
        // microseconds per thousand clients, and no counter to keep right on every login path.
        Map<Pool, Integer> clientsPerPool = new HashMap<>();
        for (ClientSession s : sessions) {
            Pool p = s.pool();
            if (p != null) {
                clientsPerPool.merge(p, 1, Integer::sum);
            }
        }
        List<String> lines = new ArrayList<>();
        for (Pool p : leases.pools()) {
            Histogram w = p.stats().takeWaitHistogram();
            lines.add(MessageFormatter.arrayFormat(
                    "stats: pool {} ({}): clients {}, waiting {}, backends open {} leased {} idle {}, leases {}, "
                            + "wait p50 {} us p99 {} us max {} us, wait timeouts {}, prepared statements {}",
                    new Object[]{p.name(), p.target(), clientsPerPool.getOrDefault(p, 0), p.waitingClients(),
                            p.openConnections(), p.leasedConnections(), p.idleConnections(), p.acquiredTotal(),
                            w.getValueAtPercentile(50), w.getValueAtPercentile(99), w.getMaxValue(),
                            p.waitTimeoutsTotal(), p.preparedStatements()}).getMessage());
        }
        Map<PinReason, Long> pins = new java.util.EnumMap<>(PinReason.class);
        long unpins = 0;
        for (Pool p : leases.pools()) {
            p.stats().pins().forEach((r, n) -> pins.merge(r, n, Long::sum));
            unpins += p.stats().unpins();
        }
        lines.add("stats: clients " + clients.get() + ", pins " + pins + " unpins " + unpins
                + ", refused " + counters.refusals());
        return lines;
    }

    @Override
    public void close() {
        drain(config.limits().shutdownTimeout());
    }
}
