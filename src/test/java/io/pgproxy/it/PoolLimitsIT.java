package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.pool.Pool;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.Sql.one;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Pool sizes and limits: reserve, minimum size, per-database and per-user limits. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class PoolLimitsIT {
    private static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    private static ProxyFixture proxy(String overrides) {
        return ProxyFixture.startTransactionPooling(pg, overrides);
    }

    private static Connection connect(ProxyFixture proxy, String db) throws SQLException {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "0");
        return proxy.connect(PostgresFixture.TRUST_USER, null, db, p);
    }

    private static Pool pool(ProxyFixture proxy, String name) {
        return proxy.pool(name);
    }

    @Test
    void aClientThatWaitedTheReserveTimeoutGetsAReserveConnection() throws Exception {
        try (ProxyFixture proxy = proxy("""
                pgproxy.pool.size = 1
                pgproxy.pool.reserve-size = 1
                pgproxy.pool.reserve-timeout = 200ms
                pgproxy.pool.wait-timeout = 5s
                """);
             Connection holder = connect(proxy, "app_trust"); Connection second = connect(proxy, "app_trust");
             Statement sh = holder.createStatement(); Statement s2 = second.createStatement()) {
            holder.setAutoCommit(false);
            sh.execute("SELECT 1");
            assertEquals("1", one(s2, "SELECT 1"), "served from the reserve while the only pooled backend is busy");
            assertEquals(2, pool(proxy, "app_trust").openConnections());
            holder.commit();
        }
    }

    @Test
    void poolsArePrewarmedToTheirMinimumSize() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.min-size = 3\n")) {
            // app_trust has a fixed backend user, so its pool exists before any client.
            await().atMost(Duration.ofSeconds(20)).until(() -> pool(proxy, "app_trust").openConnections() == 3);
            await().atMost(Duration.ofSeconds(20)).until(() -> pool(proxy, "app_trust").idleConnections() == 3);
        }
    }

    @Test
    void perDatabaseAndPerUserClientLimitsGive53300() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.limits.max-db-clients = 2\npgproxy.limits.max-user-clients = 3\n");
             Connection a = connect(proxy, "app_trust"); Connection b = connect(proxy, "app_trust")) {
            SQLException e = assertThrows(SQLException.class, () -> connect(proxy, "app_trust"));
            assertEquals("53300", e.getSQLState());
            try (Connection c = connect(proxy, "app")) {
                SQLException u = assertThrows(SQLException.class, () -> connect(proxy, "app"));
                assertEquals("53300", u.getSQLState(), "fourth client of the same user");
            }
            a.close();
            // The proxy counts a client out when its session has ended, just after the close.
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().clientCount() == 1);
            try (Connection again = connect(proxy, "app_trust"); Statement s = again.createStatement()) {
                assertEquals("1", one(s, "SELECT 1"), "a freed slot is usable");
            }
        }
    }

    @Test
    void theUserConnectionLimitSpansPoolsAndEvictsIdleOnes() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.limits.max-user-connections = 1\npgproxy.pool.wait-timeout = 2s\n")) {
            try (Connection a = connect(proxy, "app_trust"); Statement s = a.createStatement()) {
                assertEquals("1", one(s, "SELECT 1"));
            }
            // Database "app" uses the client's name as backend user: the same backend user, another pool.
            try (Connection b = connect(proxy, "app"); Statement s = b.createStatement()) {
                assertEquals("1", one(s, "SELECT 1"), "the idle connection of the other pool made room");
            }
            assertEquals(0, pool(proxy, "app_trust").openConnections());
            assertEquals(1, pool(proxy, "app").openConnections());
        }
    }
}
