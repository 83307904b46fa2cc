package io.pgproxy;

import io.pgproxy.admin.AdminConsole;
import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.config.ConfigException;
import io.pgproxy.config.ConfigLoader;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.metrics.MetricsServer;
import io.pgproxy.server.ProxyServer;
import io.pgproxy.tls.SelfSignedCertificate;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * {@code pgproxy --demo}: a throwaway embedded PostgreSQL behind the proxy, so a newcomer can
 * connect with psql in one command. The database lives in a temporary directory and is deleted
 * on exit. A config file, if given, supplies the listen address and the pool mode and size.
 * Clients may use TLS:
 * the demo makes itself a certificate for localhost.
 */
final class DemoMode {
    private static final String DEMO_USER = "demo";
    private static final String DEMO_PASSWORD = "demo";

    /** The demo's metrics port unless the config file sets one: one a person can type after reading it once. */
    private static final int DEMO_METRICS_PORT = 9432;

    private DemoMode() {
    }

    static int run(Path configFile) throws Exception {
        ProxyConfig base;
        try {
            base = configFile != null ? ConfigLoader.load(configFile) : ConfigLoader.parse("");
        } catch (ConfigException e) {
            System.err.println("pgproxy: configuration error: " + e.getMessage());
            return 2;
        }
        Path dataDir = Files.createTempDirectory("pgproxy-demo-");
        Path tlsDir = Files.createTempDirectory("pgproxy-demo-tls-");
        Path cert = SelfSignedCertificate.write(tlsDir, "server", java.time.Duration.ofDays(30));
        Path key = tlsDir.resolve("server.key");
        System.out.println("pgproxy demo: starting an embedded PostgreSQL in " + dataDir + " ...");
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(true).start()) {
            createDemoDatabase(pg);
            String verifier = ScramVerifier.fromPassword(DEMO_PASSWORD, 4096).encode();
            ProxyConfig config = ConfigLoader.parse("""
                    pgproxy {
                      listen { host = "%s", port = %d }
                      metrics { listen-host = "%s", listen-port = %d }
                      pool { mode = %s, size = %d }
                      users { %s { password = "%s" } }
                      admin-users = [%s]
                      databases { %s { host = "127.0.0.1", port = %d, dbname = "%s", user = "postgres" } }
                      client-tls { mode = prefer, cert-file = "%s", key-file = "%s" }
                    }
                    """.formatted(base.listen().host(), base.listen().port(), base.metrics().listenHost(),
                    base.metrics().enabled() ? base.metrics().listenPort() : DEMO_METRICS_PORT,
                    base.pool().mode().name().toLowerCase(java.util.Locale.ROOT), base.pool().size(), DEMO_USER, verifier,
                    DEMO_USER, DEMO_USER, pg.getPort(), DEMO_USER, cert, key));
            Main.Stopper stopper = new Main.Stopper();
            ProxyServer server = ProxyServer.start(config, s -> new AdminConsole(s, () -> {
                throw new IllegalStateException("the demo has no configuration file to reload");
            }, () -> stopper.stop(s, "SHUTDOWN command")));
            MetricsServer metrics = MetricsServer.startIfEnabled(server);
            System.out.printf("""

                    pgproxy is running in demo mode on %1$s:%2$d, with PostgreSQL on port %3$d behind it.
                    Connect through it with:

                        PGPASSWORD=%4$s psql "host=%1$s port=%2$d dbname=%5$s user=%5$s sslmode=require"

                    (TLS with a certificate made for this run; sslmode=verify-full sslrootcert=%8$s
                    checks it too, with host=localhost) and to its admin console (SHOW POOLS,
                    SHOW CLIENTS, SHOW HELP, ...) with:

                        PGPASSWORD=%4$s psql "host=%1$s port=%2$d dbname=pgbouncer user=%5$s sslmode=require"

                    Metrics: http://%6$s:%7$d/metrics

                    Press Ctrl-C to stop; the demo database and certificate are deleted on exit.
                    %n""", config.listen().host(), server.port(), pg.getPort(), DEMO_PASSWORD, DEMO_USER,
                    config.metrics().listenHost(), metrics.port(), cert);
            Main.runUntilSignalled(server, () -> System.out.println("pgproxy demo: SIGHUP ignored in demo mode"), stopper);
            metrics.close();
        } catch (IOException e) {
            System.err.println("pgproxy demo: " + e.getMessage());
            return 1;
        } finally {
            Files.deleteIfExists(key);
            Files.deleteIfExists(cert);
            Files.deleteIfExists(tlsDir);
        }
        return 0;
    }

    private static void createDemoDatabase(EmbeddedPostgres pg) throws SQLException {
        try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + DEMO_USER);
        }
    }
}
