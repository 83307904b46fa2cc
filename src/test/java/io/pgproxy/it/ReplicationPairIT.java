package io.pgproxy.it;

import io.pgproxy.fixtures.ReplicationPair;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

import static io.pgproxy.fixtures.ReplicationPair.APP_DB;
import static io.pgproxy.fixtures.ReplicationPair.APP_PW;
import static io.pgproxy.fixtures.ReplicationPair.APP_USER;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The replication fixture itself, without the proxy: the standby streams from the primary, is read-only,
 * and after the primary is killed (or stopped) and the standby promoted it takes writes and has what was
 * committed. A pair per test, since most of them end the primary.
 */
@Timeout(120)
class ReplicationPairIT {

    @TempDir
    Path dir;
    ReplicationPair pair;

    @BeforeEach
    void startPair() {
        pair = ReplicationPair.start(dir);
    }

    @AfterEach
    void stopPair() {
        pair.close();
    }

    @Test
    void aRowWrittenOnThePrimaryAppearsOnTheReadOnlyStandby() throws SQLException {
        try (Connection c = app(pair.primaryPort()); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t VALUES (1, 'streamed')");
        }
        await("the row on the standby").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .ignoreExceptions()
                .until(() -> "streamed".equals(value(pair.standbyPort(), 1)));
        try (Connection c = pair.standbyConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery(), status, sender_port FROM pg_stat_wal_receiver")) {
            assertTrue(rs.next(), "no WAL receiver on the standby");
            assertTrue(rs.getBoolean(1));
            assertEquals("streaming", rs.getString(2));
            assertEquals(pair.primaryPort(), rs.getInt(3));
        }
        try (Connection c = app(pair.standbyPort()); Statement st = c.createStatement()) {
            SQLException e = assertThrows(SQLException.class, () -> st.execute("INSERT INTO t VALUES (2, 'refused')"));
            assertEquals("25006", e.getSQLState(), e.getMessage());
        }
    }

    @Test
    void afterThePrimaryIsKilledThePromotedStandbyTakesWritesAndHasTheCommittedRows() throws SQLException {
        try (Connection c = app(pair.primaryPort()); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g");
        }
        pair.awaitStandbyCaughtUp();
        pair.killPrimary();
        SQLException down = assertThrows(SQLException.class, () -> app(pair.primaryPort()).close());
        assertEquals("08001", down.getSQLState(), down.getMessage());

        pair.promoteStandby();
        try (Connection c = app(pair.standbyPort()); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery(), count(*) FROM t")) {
                assertTrue(rs.next());
                assertFalse(rs.getBoolean(1));
                assertEquals(100, rs.getInt(2));
            }
            st.execute("INSERT INTO t VALUES (101, 'after failover')");
        }
        assertEquals("after failover", value(pair.standbyPort(), 101));
    }

    @Test
    void aPrimaryStoppedCleanlyHandsTheStandbyAllItsWalWithoutWaiting() throws SQLException {
        try (Connection c = app(pair.primaryPort()); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(id int PRIMARY KEY, v text)");
            st.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g");
        }
        // No awaitStandbyCaughtUp: a fast shutdown waits until its WAL senders are acknowledged.
        pair.stopPrimary();
        pair.promoteStandby();
        try (Connection c = app(pair.standbyPort()); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM t")) {
            assertTrue(rs.next());
            assertEquals(1000, rs.getInt(1));
        }
    }

    private static Connection app(int port) throws SQLException {
        return ReplicationPair.connect(port, APP_USER, APP_PW, APP_DB);
    }

    private static String value(int port, int id) throws SQLException {
        try (Connection c = app(port); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT v FROM t WHERE id = " + id)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }
}
