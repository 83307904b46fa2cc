package io.pgproxy.it;

import io.pgproxy.fixtures.FaultyLink;
import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.pool.Pool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.Sql.one;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A request for which no backend can be leased (the server refuses connections, as one that is
 * down or restarting does) gets that error, 08001, as an ERROR: the client keeps its session,
 * and its next request, once the server is back, runs as if nothing happened. Extended-protocol
 * requests are answered as PostgreSQL answers a failed one: one error, then nothing until Sync,
 * whose ReadyForQuery ends it.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class NoBackendIT {
    private static FaultyLink link;
    private static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture pg) throws Exception {
        link = FaultyLink.to(pg.host(), pg.port());
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.pool.mode = transaction\n"
                + "pgproxy.databases.flaky { host = \"127.0.0.1\", port = " + link.port() + ", dbname = \"" + pg.db()
                + "\", user = \"trust_user\" }\n");
    }

    @AfterAll
    static void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (link != null) {
            link.close();
        }
    }

    @AfterEach
    void serverBack() {
        link.refuse(false);
    }

    /** The server goes away: new connections are refused and the pool keeps none open. */
    private static void serverDown() {
        link.refuse(true);
        link.sever();
        Pool pool = proxy.pool("flaky");
        await().atMost(10, TimeUnit.SECONDS).until(() -> {
            pool.closeIdle();
            return pool.openConnections() == 0;
        });
    }

    private static Connection client(Properties extra) throws SQLException {
        return proxy.connect(PostgresFixture.TRUST_USER, null, "flaky", extra);
    }

    @Test
    void aStatementWithNoServerGets08001AndTheSessionGoesOn() throws Exception {
        long refused = proxy.pool("flaky").stats().requestsRefusedTotal();
        try (Connection c = client(new Properties()); Statement s = c.createStatement()) {
            s.execute("SET application_name = 'kept_without_a_server'");
            serverDown();
            SQLException e = assertThrows(SQLException.class, () -> one(s, "SELECT 1"));
            assertEquals("08001", e.getSQLState(), e.getMessage());
            link.refuse(false);
            assertEquals("2", one(s, "SELECT 2"), "the same session runs its next statement");
            assertEquals("kept_without_a_server", one(s, "SHOW application_name"), "its settings came along");
        }
        assertEquals(refused + 1, proxy.pool("flaky").stats().requestsRefusedTotal());
    }

    @Test
    void aServerPreparedStatementIsRefusedWholeAndRunsLater() throws Exception {
        Properties named = new Properties();
        // Named statements from the first use: the proxy's statement editor takes them.
        named.setProperty("prepareThreshold", "1");
        for (Properties p : List.of(new Properties(), named)) {
            try (Connection c = client(p); PreparedStatement ps = c.prepareStatement("SELECT ?::int + 1")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    assertEquals(2, rs.getInt(1));
                }
                serverDown();
                ps.setInt(1, 2);
                SQLException e = assertThrows(SQLException.class, ps::executeQuery);
                assertEquals("08001", e.getSQLState(), e.getMessage());
                link.refuse(false);
                ps.setInt(1, 3);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    assertEquals(4, rs.getInt(1), "the statement runs once the server is back, " + p);
                }
            }
        }
    }

    @Test
    void anExtendedRequestIsAnsweredOnceAndItsSyncEndsIt() throws Exception {
        try (PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(30))) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "flaky");
            serverDown();
            // Parse, Bind, Execute with no Sync yet: the error comes now, as from PostgreSQL.
            wire.write(parse("SELECT 42"), bind(), execute());
            PgWire.Message error = wire.readMessage();
            assertEquals('E', error.tag(), "an ErrorResponse first: " + error);
            assertEquals("08001", PgWire.fields(error.body()).get('C'));
            // What comes before the Sync is dropped; the Sync gets the ReadyForQuery, and a
            // Query pipelined behind it runs once the server is back.
            link.refuse(false);
            wire.write(parse("SELECT 43"), bind(), execute(), PgWire.frame('S', new byte[0]), PgWire.query("SELECT 44"));
            List<PgWire.Message> rest = new ArrayList<>();
            for (int ready = 0; ready < 2; ) {
                PgWire.Message m = wire.readMessage();
                rest.add(m);
                if (m.tag() == 'Z') {
                    ready++;
                }
            }
            assertEquals("Z", tags(rest.subList(0, 1)), "only the ReadyForQuery of the dropped request: " + rest);
            assertEquals('I', (char) rest.get(0).body()[0]);
            assertEquals("TDCZ", tags(rest.subList(1, rest.size())), "the pipelined Query ran: " + rest);
            assertEquals("44", new String(rest.get(2).body(), 6, 2, StandardCharsets.UTF_8));
        }
    }

    private static String tags(List<PgWire.Message> messages) {
        StringBuilder b = new StringBuilder();
        messages.forEach(m -> b.append(m.tag()));
        return b.toString();
    }

    private static byte[] parse(String sql) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(0);
        body.writeBytes(sql.getBytes(StandardCharsets.UTF_8));
        body.write(0);
        body.writeBytes(new byte[2]);
        return PgWire.frame('P', body.toByteArray());
    }

    private static byte[] bind() {
        return PgWire.frame('B', new byte[] {0, 0, 0, 0, 0, 0, 0, 0});
    }

    private static byte[] execute() {
        return PgWire.frame('E', new byte[] {0, 0, 0, 0, 0});
    }
}
