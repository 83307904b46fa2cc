package io.pgproxy.admin;

import io.pgproxy.protocol.message.CommandComplete;
import io.pgproxy.client.ClientSession;
import io.pgproxy.client.ClientState;
import io.pgproxy.client.ConsoleSession;
import io.pgproxy.config.HostAddress;
import io.pgproxy.failover.FailoverCoordinator;
import io.pgproxy.failover.SwitchoverException;
import io.pgproxy.pool.PauseGate;
import io.pgproxy.pool.Pool;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.server.ProxyServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * The admin-only commands. PAUSE and WAIT_CLOSE block the console that asked until their
 * condition holds (as PgBouncer's do) or that console is closed; nothing else waits for them.
 */
final class Control {
    private static final Logger log = LoggerFactory.getLogger(Control.class);
    static final Set<String> VERBS = Set.of("PAUSE", "RESUME", "RECONNECT", "KILL", "RELOAD", "SHUTDOWN", "WAIT_CLOSE",
            "SWITCHOVER");

    private final ProxyServer server;
    private final Callable<?> reload;
    private final Runnable shutdown;

    Control(ProxyServer server, Callable<?> reload, Runnable shutdown) {
        this.server = server;
        this.reload = reload;
        this.shutdown = shutdown;
    }

    byte[] run(String verb, String arg, ConsoleSession session) throws ConsoleError {
        switch (verb) {
            case "PAUSE" -> pause(arg, session);
            case "RESUME" -> resume(arg);
            case "RECONNECT" -> pools(arg).forEach(Pool::reconnect);
            case "KILL" -> kill(arg);
            case "RELOAD" -> reload(arg);
            case "SHUTDOWN" -> shutdown(arg);
            case "WAIT_CLOSE" -> waitClose(arg, session);
            case "SWITCHOVER" -> switchover(arg, session);
            default -> throw new IllegalArgumentException(verb);
        }
        return new CommandComplete(verb).encode();
    }

    /** Closes the gate, then waits until no backend of the paused pools is leased or being leased. */
    private void pause(String db, ConsoleSession session) throws ConsoleError {
        List<Pool> pools = pools(db);
        PauseGate gate = db.isEmpty() ? server.leases().gate() : server.leases().gate(db);
        if (server.leases().gate().isPausedItself() || !gate.pause()) {
            throw new ConsoleError("55000", "already suspended/paused");
        }
        // Pools made while paused are gated from their start, so the list taken now is enough.
        await(gate, () -> pools.stream().allMatch(Pool::isDrained), session, "PAUSE");
        log.info("{} console: {} paused, {} pool(s) drained", session.id(), db.isEmpty() ? "all databases" : db,
                pools.size());
    }

    private void resume(String db) throws ConsoleError {
        if (db.isEmpty()) {
            // Also what KILL and PAUSE db closed: RESUME alone opens everything.
            boolean any = server.leases().gate().resume();
            for (String name : server.config().databases().keySet()) {
                any |= server.leases().gate(name).resume();
            }
            if (!any) {
                throw new ConsoleError("55000", "pooler is not paused/suspended");
            }
            return;
        }
        checkDatabase(db);
        if (!server.leases().gate(db).resume()) {
            throw new ConsoleError("55000", "database " + db + " is not paused");
        }
    }

    /**
     * Ends every client of the database(s) with 57P01 and closes their backends; new clients
     * wait at the closed gate until RESUME, as PgBouncer's KILL leaves the database paused.
     */
    private void kill(String db) throws ConsoleError {
        List<Pool> pools = pools(db);
        if (db.isEmpty()) {
            server.config().databases().keySet().forEach(n -> server.leases().gate(n).pause());
        } else {
            server.leases().gate(db).pause();
        }
        pools.forEach(Pool::reconnect);
        int killed = 0;
        for (ClientSession s : server.registry().sessions()) {
            if (s.pool() != null && (db.isEmpty() || s.database().equals(db)) && s.state() != ClientState.CLOSING) {
                s.terminate(ErrorResponse.fatal("57P01", "terminating connection due to administrator command"));
                killed++;
            }
        }
        log.info("KILL {}: {} client(s) terminated", db.isEmpty() ? "(all)" : db, killed);
    }

    private void reload(String arg) throws ConsoleError {
        noArgument("RELOAD", arg);
        try {
            reload.call();
        } catch (Exception e) {
            throw new ConsoleError("F0000", "reload rejected, the previous configuration stays in force: " + e.getMessage());
        }
    }

    private void shutdown(String arg) throws ConsoleError {
        noArgument("SHUTDOWN", arg);
        // On its own thread: the drain closes this console too, once its answer is out.
        Thread.ofPlatform().name("pgproxy-shutdown").start(shutdown);
    }

    /**
     * SWITCHOVER db [host:port]: new transactions of db wait while running ones finish and the
     * primary moves to the host (once it says it is the primary), or to the first that does.
     */
    private void switchover(String arg, ConsoleSession session) throws ConsoleError {
        String[] words = arg.strip().split("\\s+");
        if (arg.isBlank() || words.length > 2) {
            throw new ConsoleError("42601", "usage: SWITCHOVER <db> [<host:port>]");
        }
        checkDatabase(words[0]);
        HostAddress target = words.length == 2 ? hostAddress(words[1]) : null;
        try {
            FailoverCoordinator.Switchover s = server.failover().switchover(words[0], target, () -> !session.isOpen());
            log.info("{} console: SWITCHOVER {} from {} to {}: clients waited {} ms, {} transaction(s) aborted",
                    session.id(), s.database(), s.from(), s.to(), s.stallMicros() / 1000, s.aborted());
        } catch (SwitchoverException e) {
            throw new ConsoleError(e.sqlState(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConsoleError("57014", "SWITCHOVER interrupted");
        }
    }

    private static HostAddress hostAddress(String text) throws ConsoleError {
        int colon = text.lastIndexOf(':');
        try {
            String host = text.substring(0, colon).replace("[", "").replace("]", "");
            return new HostAddress(host, Integer.parseInt(text.substring(colon + 1)));
        } catch (RuntimeException e) {
            throw new ConsoleError("22023", "\"" + text + "\" is not host:port");
        }
    }

    /** Waits until every backend that RECONNECT, KILL or a reload marked has closed. */
    private void waitClose(String db, ConsoleSession session) throws ConsoleError {
        List<Pool> pools = pools(db);
        await(server.leases().gate(), () -> pools.stream().noneMatch(Pool::hasMarkedConnections), session,
                "WAIT_CLOSE");
    }

    private static void await(PauseGate gate, java.util.function.BooleanSupplier done, ConsoleSession session,
                              String what) throws ConsoleError {
        try {
            if (!gate.awaitUntil(done, () -> !session.isOpen())) {
                throw new ConsoleError("57P01", what + " abandoned: the console session closed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConsoleError("57014", what + " interrupted");
        }
    }

    /** The pools of {@code db}, or of every database when it is empty; the name must be configured. */
    private List<Pool> pools(String db) throws ConsoleError {
        if (!db.isEmpty()) {
            checkDatabase(db);
        }
        return server.leases().pools().stream().filter(p -> db.isEmpty() || p.name().equals(db)).toList();
    }

    private void checkDatabase(String db) throws ConsoleError {
        if (AdminConsole.NAMES.contains(db)) {
            throw new ConsoleError("55000", "cannot pause, kill or reconnect the admin database: " + db);
        }
        if (!server.config().databases().containsKey(db)
                && server.leases().pools().stream().noneMatch(p -> p.name().equals(db))) {
            throw ConsoleError.noSuchDatabase(db);
        }
    }

    private static void noArgument(String verb, String arg) throws ConsoleError {
        if (!arg.isEmpty()) {
            throw new ConsoleError("42601", verb + " takes no argument");
        }
    }
}
