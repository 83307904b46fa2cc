package io.pgproxy.admin;

import io.pgproxy.protocol.message.CommandComplete;
import io.pgproxy.protocol.message.EmptyQueryResponse;
import io.pgproxy.client.ConsoleSession;
import io.pgproxy.client.VirtualDatabase;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.ReadyForQuery;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.server.ProxyServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The admin console, as PgBouncer's: simple query protocol only, one command per query, the
 * user's role checked on every command against the configuration in force (a reload may take
 * it away mid-session). Each console client runs on its own virtual thread, so a PAUSE that
 * waits blocks only the console that asked.
 */
public final class AdminConsole implements VirtualDatabase {
    private static final Logger log = LoggerFactory.getLogger(AdminConsole.class);
    /** The database names clients ask for: pgproxy's own, and PgBouncer's so its tools work unchanged. */
    static final Set<String> NAMES = Set.of("pgproxy", "pgbouncer");
    /** A command word, then at most one argument (a name, possibly quoted); a trailing semicolon is allowed. */
    private static final Pattern COMMAND = Pattern.compile(
            "(?s)\\s*([A-Za-z_]+)(?:\\s+(\"[^\"]*\"|[^\\s;\"]+))?(?:\\s+([^\\s;\"]+))?\\s*;?\\s*");
    /**
     * Console commands are a few words; a longer message is refused (08P01) before its body is
     * read, so no console client can make the proxy allocate much.
     */
    static final int MAX_COMMAND_SIZE = 64 * 1024;
    private static final Pattern SET = Pattern.compile("(?is)\\s*SET\\s+.*");

    enum Role { ADMIN, STATS, NONE }

    private final ProxyServer server;
    private final Views views;
    private final Control control;

    /**
     * {@code reload} re-reads the configuration file as SIGHUP does and throws with the reason
     * when the file is rejected; {@code shutdown} drains and exits as SIGTERM does.
     */
    public AdminConsole(ProxyServer server, Callable<?> reload, Runnable shutdown) {
        this.server = server;
        this.views = new Views(server);
        this.control = new Control(server, reload, shutdown);
    }

    @Override
    public boolean serves(String database) {
        return NAMES.contains(database);
    }

    @Override
    public int maxMessageSize() {
        return MAX_COMMAND_SIZE;
    }

    @Override
    public Map<String, String> parameters() {
        // What PgBouncer's console reports, so drivers that look for these find them.
        Map<String, String> p = new LinkedHashMap<>();
        p.put("server_version", Views.version() + "/pgproxy");
        p.put("server_encoding", "UTF8");
        p.put("client_encoding", "UTF8");
        p.put("DateStyle", "ISO");
        p.put("TimeZone", "UTC");
        p.put("standard_conforming_strings", "on");
        p.put("integer_datetimes", "on");
        p.put("is_superuser", "off");
        return p;
    }

    @Override
    public void run(ConsoleSession session) throws IOException {
        while (true) {
            Frame f = session.read();
            switch (f.tag()) {
                case 'Q' -> {
                    String query = cstring(f);
                    session.send(answer(session, query));
                }
                case 'X' -> {
                    return;
                }
                case 'P', 'B', 'E', 'D', 'S', 'H', 'C', 'F' -> {
                    // As PgBouncer: its console and tools use the simple protocol only.
                    session.send(ErrorResponse.fatal("08P01", "extended query protocol not supported by admin console")
                            .withHint("use the simple query protocol (pgjdbc: preferQueryMode=simple)").encode());
                    return;
                }
                default -> {
                    session.send(ErrorResponse.fatal("08P01",
                            "unsupported message type for admin console: '" + (char) f.tag() + "'").encode());
                    return;
                }
            }
        }
    }

    private static String cstring(Frame f) {
        byte[] b = new byte[f.body().remaining()];
        f.body().get(b);
        int end = b.length;
        while (end > 0 && b[end - 1] == 0) {
            end--;
        }
        return new String(b, 0, end, StandardCharsets.UTF_8);
    }

    /** The whole reply to one query, ReadyForQuery included. */
    private byte[] answer(ConsoleSession session, String query) {
        MessageBuilder m = new MessageBuilder();
        try {
            m.bytes(execute(session, query));
        } catch (ConsoleError e) {
            log.info("{} console: {} refused: {} {}", session.id(), query.strip(), e.sqlState(), e.getMessage());
            m.bytes(ErrorResponse.error(e.sqlState(), e.getMessage()).encode());
        } catch (RuntimeException e) {
            log.error("{} console: {} failed", session.id(), query.strip(), e);
            m.bytes(ErrorResponse.error("XX000", "internal error in pgproxy").encode());
        }
        m.bytes(new ReadyForQuery(TransactionStatus.IDLE).encode());
        return m.toByteArray();
    }

    private byte[] execute(ConsoleSession session, String query) throws ConsoleError {
        if (query.isBlank()) {
            return new EmptyQueryResponse().encode();
        }
        if (SET.matcher(query).matches()) {
            // Drivers set session parameters after login; the console has none, so it agrees and changes nothing.
            return new CommandComplete("SET").encode();
        }
        Role role = role(session.user());
        if (role == Role.NONE) {
            throw new ConsoleError("42501", "permission denied: user \"" + session.user()
                    + "\" is not in pgproxy.admin-users or pgproxy.stats-users");
        }
        Matcher c = COMMAND.matcher(query);
        if (!c.matches()) {
            throw syntaxError(query);
        }
        String verb = c.group(1).toUpperCase(Locale.ROOT);
        String arg = c.group(2) == null ? "" : c.group(2).replace("\"", "");
        if (c.group(3) != null) {
            // Only SWITCHOVER takes a second word (the host).
            if (!verb.equals("SWITCHOVER")) {
                throw syntaxError(query);
            }
            arg = arg + " " + c.group(3);
        }
        if (verb.equals("SHOW")) {
            if (arg.isEmpty()) {
                throw syntaxError(query);
            }
            return views.show(arg.toLowerCase(Locale.ROOT), session, query);
        }
        if (!Control.VERBS.contains(verb)) {
            throw syntaxError(query);
        }
        if (role != Role.ADMIN) {
            throw ConsoleError.adminOnly();
        }
        log.info("{} console: {} by {}", session.id(), (verb + " " + arg).strip(), session.user());
        return control.run(verb, arg, session);
    }

    /** The user's console role in the configuration in force now. */
    private Role role(String user) {
        ProxyConfig c = server.config();
        if (c.adminUsers().contains(user)) {
            return Role.ADMIN;
        }
        return c.statsUsers().contains(user) ? Role.STATS : Role.NONE;
    }

    static ConsoleError syntaxError(String query) {
        return new ConsoleError("42601", "invalid command '" + query.strip() + "', use SHOW HELP;");
    }
}
