package io.pgproxy.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pgproxy.config.MetricsConfig;
import io.pgproxy.server.ProxyServer;
import io.prometheus.metrics.exporter.httpserver.MetricsHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * The HTTP endpoint of one {@link ProxyServer}, on a port of its own so that scrapes and probes
 * never queue behind clients: {@code /metrics} (Prometheus text format), {@code /health} (200 while
 * the process answers) and {@code /ready} (200 while the proxy accepts clients, 503 once it
 * drains, so a load balancer stops sending new ones). The JDK's HTTP server with the Prometheus
 * client's scrape handler; one virtual thread per request.
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);
    /** Pending connections the kernel keeps while a scrape runs: scrapers and probes are few. */
    private static final int BACKLOG = 16;

    private final HttpServer http;
    private final ExecutorService executor;

    private MetricsServer(HttpServer http, ExecutorService executor) {
        this.http = http;
        this.executor = executor;
    }

    /** Starts the endpoint the configuration asks for, or returns null when {@code metrics.listen-port} is 0. */
    public static MetricsServer startIfEnabled(ProxyServer server) throws IOException {
        MetricsConfig c = server.config().metrics();
        return c.enabled() ? start(server, c.listenHost(), c.listenPort(), c.maxLabelledPools()) : null;
    }

    /** Binds {@code host:port} (port 0: any free port, see {@link #port()}) and starts serving. */
    public static MetricsServer start(ProxyServer server, String host, int port, int maxLabelledPools)
            throws IOException {
        PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(new ProxyCollector(server, maxLabelledPools));
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(host, port), BACKLOG);
        } catch (IOException e) {
            throw new IOException("cannot listen for metrics on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        http.createContext("/metrics", new MetricsHandler(registry));
        http.createContext("/health", ex -> answer(ex, () -> true, "up\n", "down\n"));
        http.createContext("/ready", ex -> answer(ex, server::isAccepting, "ready\n", "draining\n"));
        ExecutorService executor = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("pgproxy-metrics-", 0).factory());
        http.setExecutor(executor);
        http.start();
        MetricsServer m = new MetricsServer(http, executor);
        log.info("metrics on http://{}:{}/metrics", host, m.port());
        return m;
    }

    private static void answer(HttpExchange ex, BooleanSupplier ok, String yes, String no) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                ex.sendResponseHeaders(405, -1);
                return;
            }
            boolean good = ok.getAsBoolean();
            byte[] body = (good ? yes : no).getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            boolean head = ex.getRequestMethod().equals("HEAD");
            ex.sendResponseHeaders(good ? 200 : 503, head ? -1 : body.length);
            if (!head) {
                try (OutputStream os = ex.getResponseBody()) {
                    os.write(body);
                }
            }
        }
    }

    /** The port the endpoint listens on. */
    public int port() {
        return http.getAddress().getPort();
    }

    @Override
    public void close() {
        // No grace period: a scrape cut short is retried by the scraper, and a stopping process
        // should not wait on one.
        http.stop(0);
        executor.close();
    }
}
