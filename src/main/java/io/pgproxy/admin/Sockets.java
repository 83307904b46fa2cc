package io.pgproxy.admin;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.client.ClientSession;
import io.pgproxy.client.ClientState;
import io.pgproxy.pool.Pool;
import io.pgproxy.server.ProxyServer;
import io.pgproxy.session.PinReason;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static io.pgproxy.admin.Result.int4;
import static io.pgproxy.admin.Result.text;

/** SHOW CLIENTS and SHOW SERVERS: one row per socket, PgBouncer's columns, then pgproxy's. */
final class Sockets {
    /** PgBouncer's timestamp text. */
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    private final ProxyServer server;

    Sockets(ProxyServer server) {
        this.server = server;
    }

    private static Result header() {
        return new Result(text("type"), text("user"), text("database"), text("replication"), text("state"),
                text("addr"), int4("port"), text("local_addr"), int4("local_port"), text("connect_time"),
                text("request_time"), int4("wait"), int4("wait_us"), int4("close_needed"), text("ptr"), text("link"),
                int4("remote_pid"), text("tls"), text("application_name"), int4("prepared_statements"), int4("id"),
                // pgproxy's own
                text("pgproxy_state"), text("pin_reason"));
    }

    /** Logged-in clients, the console's own included, as PgBouncer lists its console clients. */
    Result clients() {
        Result r = header();
        long nowMillis = System.currentTimeMillis();
        long nowNanos = System.nanoTime();
        List<ClientSession> sessions = new ArrayList<>(server.registry().sessions());
        sessions.sort(Comparator.comparingLong(ClientSession::connectedAtMillis));
        for (ClientSession s : sessions) {
            ClientState st = s.state();
            if (st == ClientState.CLOSING || st == ClientState.LOGGING_IN) {
                continue;
            }
            BackendConnection b = s.backend();
            long sent = s.requestSentNanos();
            long requestMillis = sent == 0 ? s.connectedAtMillis() : nowMillis - (nowNanos - sent) / 1_000_000;
            PinReason pin = s.pinReason();
            long wait = st == ClientState.WAITING ? Math.max(0, (nowNanos - s.waitingSinceNanos()) / 1000) : 0;
            r.row("C", s.user(), s.database(), "none", clientState(st, b), host(s.remoteAddress()),
                    port(s.remoteAddress()), server.config().listen().host(), server.port(),
                    TIME.format(Instant.ofEpochMilli(s.connectedAtMillis())), TIME.format(Instant.ofEpochMilli(requestMillis)),
                    wait / 1_000_000, wait % 1_000_000, 0, s.id(), b == null ? "" : b.id(), 0,
                    s.tls() == null ? "" : s.tls().describe(), s.applicationName(),
                    s.preparedStatements(), number(s.id()),
                    st.name().toLowerCase(Locale.ROOT), pin == null ? "" : pin.name().toLowerCase(Locale.ROOT));
        }
        return r;
    }

    /** PgBouncer's words: a logged-in client holding no backend is "idle", one queued for one "waiting". */
    private static String clientState(ClientState st, BackendConnection b) {
        return switch (st) {
            case WAITING -> "waiting";
            case ACTIVE, PINNED -> b == null ? "idle" : "active";
            default -> "idle";
        };
    }

    Result servers() {
        Result r = header();
        Map<BackendConnection, ClientSession> linked = new HashMap<>();
        for (ClientSession s : server.registry().sessions()) {
            BackendConnection b = s.backend();
            if (b != null) {
                linked.put(b, s);
            }
        }
        long nowMillis = System.currentTimeMillis();
        long nowNanos = System.nanoTime();
        for (Pool p : server.leases().pools()) {
            List<BackendConnection> backends = new ArrayList<>(p.connections());
            backends.sort(Comparator.comparingLong(BackendConnection::createdNanos));
            for (BackendConnection b : backends) {
                String state = switch (b.state()) {
                    case ACTIVE -> "active";
                    case IDLE -> "idle";
                    case RESETTING -> "used";
                    case CONNECTING, LOGGING_IN -> "new";
                    case CLOSED -> null;
                };
                if (state == null) {
                    continue;
                }
                ClientSession client = linked.get(b);
                long created = nowMillis - (nowNanos - b.createdNanos()) / 1_000_000;
                long used = nowMillis - (nowNanos - b.lastReleasedNanos()) / 1_000_000;
                r.row("S", b.target().user(), p.name(), "none", state, b.target().host(), b.target().port(), "", 0,
                        TIME.format(Instant.ofEpochMilli(created)), TIME.format(Instant.ofEpochMilli(used)), 0, 0,
                        p.isRetired() ? 1 : 0, b.id(), client == null ? "" : client.id(), b.backendPid(), b.tls(), "",
                        b.statements().size(), number(b.id()), b.state().name().toLowerCase(Locale.ROOT), "");
            }
        }
        return r;
    }

    /** The number in an id such as "c12" or "b7": PgBouncer's id column is an integer. */
    private static long number(String id) {
        String digits = id.replaceAll("\\D", "");
        return digits.isEmpty() ? 0 : Long.parseLong(digits);
    }

    private static String host(SocketAddress a) {
        return a instanceof InetSocketAddress i ? i.getAddress().getHostAddress() : "";
    }

    private static int port(SocketAddress a) {
        return a instanceof InetSocketAddress i ? i.getPort() : 0;
    }
}
