package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.PGStatement;
import org.postgresql.copy.CopyManager;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.PostgresFixture.TRUST_USER;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * What goes through the proxy comes out unchanged: both query protocols, transactions, errors, COPY, large
 * values, streamed results, notifications, cancel, and the session reset between clients. Clients are
 * pgjdbc as trust_user on database app_trust; where it makes sense the result is compared with a direct
 * connection to PostgreSQL.
 */
@Timeout(120)
@ExtendWith(SharedPostgres.class)
class RelayIT {

    static PostgresFixture pg;
    static ProxyFixture proxy;

    @BeforeAll
    static void start(PostgresFixture database) {
        pg = database;
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg));
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
    }

    static Connection viaProxy(String... props) throws SQLException {
        Properties p = new Properties();
        for (int i = 0; i < props.length; i += 2) p.setProperty(props[i], props[i + 1]);
        return proxy.connect(TRUST_USER, null, "app_trust", p);
    }

    static Connection direct() throws SQLException {
        return pg.direct(TRUST_USER, null, pg.db());
    }

    static List<String> rows(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= n; i++) row.append(i > 1 ? "|" : "").append(rs.getString(i));
                out.add(row.toString());
            }
        }
        return out;
    }

    static long scalar(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertTrue(rs.next());
            return rs.getLong(1);
        }
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    // ------------------------------------------------------------------ queries

    @Test
    void simpleQueryProtocolMatchesDirect() throws SQLException {
        String sql = "SELECT g, g * 2, 'row ' || g, g % 3 = 0, now() IS NOT NULL FROM generate_series(1, 2000) g ORDER BY g";
        try (Connection p = viaProxy("preferQueryMode", "simple"); Connection d = direct()) {
            List<String> expected = rows(d, sql);
            assertEquals(2000, expected.size());
            assertEquals(expected, rows(p, sql));
            // several statements in one Query message: one result each, in order
            try (Statement st = p.createStatement()) {
                assertTrue(st.execute("SELECT 1; SELECT 'two'; SELECT 3 * 2"));
                List<String> results = new ArrayList<>();
                do {
                    try (ResultSet rs = st.getResultSet()) {
                        rs.next();
                        results.add(rs.getString(1));
                    }
                } while (st.getMoreResults());
                assertEquals(List.of("1", "two", "6"), results);
            }
        }
    }

    @Test
    void serverPreparedStatementsAreReusedWithinTheSession() throws SQLException {
        try (Connection c = viaProxy("prepareThreshold", "1")) {
            exec(c, "CREATE TEMP TABLE prep_t(id int PRIMARY KEY, name text)");
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO prep_t VALUES (?, ?)")) {
                for (int i = 1; i <= 500; i++) {
                    ins.setInt(1, i);
                    ins.setString(2, "name-" + i);
                    ins.addBatch();
                }
                int[] counts = ins.executeBatch();
                assertEquals(500, counts.length);
            }
            try (PreparedStatement q = c.prepareStatement("SELECT name, ?::int * id FROM prep_t WHERE id = ?")) {
                for (int i = 1; i <= 20; i++) {
                    q.setInt(1, 3);
                    q.setInt(2, i * 7);
                    try (ResultSet rs = q.executeQuery()) {
                        assertTrue(rs.next());
                        assertEquals("name-" + i * 7, rs.getString(1));
                        assertEquals(i * 7 * 3, rs.getInt(2));
                        assertFalse(rs.next());
                    }
                }
                assertTrue(q.unwrap(PGStatement.class).isUseServerPrepare(), "pgjdbc should be using a named server statement");
            }
            // the named statement lives on this session's backend
            assertTrue(scalar(c, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT name, $1::int * id FROM prep_t%'") >= 1);
        }
    }

    @Test
    void transactionsCommitAndRollback() throws SQLException {
        try (Connection d = direct()) {
            exec(d, "CREATE TABLE tx_t(id int)");
        }
        try (Connection c = viaProxy()) {
            c.setAutoCommit(false);
            exec(c, "INSERT INTO tx_t VALUES (1)");
            c.commit();
            exec(c, "INSERT INTO tx_t VALUES (2)");
            try (Connection d = direct()) { // not visible outside before commit/rollback
                assertEquals(List.of("1"), rows(d, "SELECT id FROM tx_t ORDER BY id"));
            }
            c.rollback();
            exec(c, "INSERT INTO tx_t VALUES (3)");
            var sp = c.setSavepoint();
            exec(c, "INSERT INTO tx_t VALUES (4)");
            c.rollback(sp);
            c.commit();
            assertEquals(List.of("1", "3"), rows(c, "SELECT id FROM tx_t ORDER BY id"));
        }
        try (Connection d = direct()) {
            assertEquals(List.of("1", "3"), rows(d, "SELECT id FROM tx_t ORDER BY id"));
        }
    }

    @Test
    void anErrorThenRecoveryInTheSameConnection() throws SQLException {
        try (Connection c = viaProxy()) {
            SQLException e = assertThrows(SQLException.class, () -> exec(c, "SELECT * FROM no_such_table"));
            assertEquals("42P01", e.getSQLState());
            assertEquals(1, scalar(c, "SELECT 1"));

            try (PreparedStatement ps = c.prepareStatement("SELECT 1 / ?")) {
                ps.setInt(1, 0);
                assertEquals("22012", assertThrows(SQLException.class, ps::executeQuery).getSQLState());
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    assertTrue(rs.next());
                    assertEquals(1, rs.getInt(1));
                }
            }

            c.setAutoCommit(false);
            assertEquals("22P02", assertThrows(SQLException.class, () -> exec(c, "SELECT 'x'::int")).getSQLState());
            assertEquals("25P02", assertThrows(SQLException.class, () -> exec(c, "SELECT 1")).getSQLState());
            c.rollback();
            assertEquals(2, scalar(c, "SELECT 2"));
            c.commit();
        }
    }

    // ------------------------------------------------------------------ bulk

    @Test
    @Timeout(300)
    void copyInAndCopyOutOf100kRows() throws SQLException, IOException {
        try (Connection d = direct()) {
            exec(d, "CREATE TABLE copy_t(id int, t text, n numeric)");
        }
        StringBuilder data = new StringBuilder();
        for (int i = 1; i <= 100_000; i++) {
            data.append(i).append('\t').append("text é ").append(i).append('\t').append(i % 10 == 0 ? "\\N" : i + ".5").append('\n');
        }
        try (Connection c = viaProxy()) {
            CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            long in = copy.copyIn("COPY copy_t FROM STDIN", new StringReader(data.toString()));
            assertEquals(100_000, in);
            assertEquals(5_000_050_000L, scalar(c, "SELECT sum(id) FROM copy_t"));
            assertEquals(10_000, scalar(c, "SELECT count(*) FROM copy_t WHERE n IS NULL"));

            ByteArrayOutputStream viaProxy = new ByteArrayOutputStream();
            long out = copy.copyOut("COPY (SELECT * FROM copy_t ORDER BY id) TO STDOUT", viaProxy);
            assertEquals(100_000, out);
            ByteArrayOutputStream viaDirect = new ByteArrayOutputStream();
            try (Connection d = direct()) {
                d.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (SELECT * FROM copy_t ORDER BY id) TO STDOUT", viaDirect);
            }
            assertEquals(data.toString(), viaProxy.toString(java.nio.charset.StandardCharsets.UTF_8));
            assertArrayEquals(sha256(viaDirect.toByteArray()), sha256(viaProxy.toByteArray()));

            // the session is still in a sane state after COPY
            assertEquals(1, scalar(c, "SELECT 1"));
        }
    }

    @Test
    @Timeout(300)
    void a100MegabyteByteaGoesInAndComesBackIntact() throws Exception {
        final int size = 100 * 1024 * 1024;
        try (Connection c = viaProxy("prepareThreshold", "-1")) { // -1: binary transfer from the first execution
            exec(c, "CREATE TEMP TABLE blob_t(id int, data bytea)");
            MessageDigest sent = MessageDigest.getInstance("SHA-256");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO blob_t VALUES (1, ?)");
                 InputStream in = new DigestInputStream(new PseudoRandomStream(size, 42), sent)) {
                ps.setBinaryStream(1, in, size);
                assertEquals(1, ps.executeUpdate());
            }
            String sentHex = HexFormat.of().formatHex(sent.digest());
            // what PostgreSQL stored
            assertEquals(List.of(size + "|" + sentHex), rows(c, "SELECT length(data), encode(sha256(data), 'hex') FROM blob_t"));
            // what comes back through the proxy
            MessageDigest received = MessageDigest.getInstance("SHA-256");
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT data FROM blob_t WHERE id = 1")) {
                assertTrue(rs.next());
                long n = 0;
                try (InputStream in = rs.getBinaryStream(1)) {
                    byte[] buf = new byte[1 << 16];
                    for (int r; (r = in.read(buf)) > 0; n += r) received.update(buf, 0, r);
                }
                assertEquals(size, n);
            }
            assertEquals(sentHex, HexFormat.of().formatHex(received.digest()));
            assertEquals(1, scalar(c, "SELECT 1"));
        }
    }

    @Test
    @Timeout(300)
    void aMillionRowsStreamWithFetchSize() throws SQLException {
        try (Connection c = viaProxy()) {
            c.setAutoCommit(false); // pgjdbc only uses a portal with fetchSize inside a transaction
            try (Statement st = c.createStatement()) {
                st.setFetchSize(1000);
                try (ResultSet rs = st.executeQuery("SELECT g, md5(g::text) FROM generate_series(1, 1000000) g")) {
                    long count = 0, sum = 0, last = 0;
                    while (rs.next()) {
                        long g = rs.getLong(1);
                        assertEquals(last + 1, g);
                        last = g;
                        sum += g;
                        count++;
                        if (g == 777_777) assertEquals(md5Hex("777777"), rs.getString(2));
                    }
                    assertEquals(1_000_000, count);
                    assertEquals(500_000_500_000L, sum);
                }
            }
            c.commit();
            assertEquals(1, scalar(c, "SELECT 1"));
        }
    }

    // ------------------------------------------------------------------ asynchronous traffic

    @Test
    void listenNotifyBetweenTwoProxyClients() throws SQLException {
        try (Connection listener = viaProxy(); Connection notifier = viaProxy()) {
            exec(listener, "LISTEN relay_chan");
            long notifierPid = scalar(notifier, "SELECT pg_backend_pid()");
            exec(notifier, "NOTIFY relay_chan, 'hello ü 🐘'");
            PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(10_000);
            assertNotNull(got, "no notification within 10 s");
            assertEquals(1, got.length);
            assertEquals("relay_chan", got[0].getName());
            assertEquals("hello ü 🐘", got[0].getParameter());
            assertEquals(notifierPid, got[0].getPID());
            // a notification sent from a direct connection arrives too
            try (Connection d = direct()) {
                exec(d, "NOTIFY relay_chan, 'direct'");
            }
            got = listener.unwrap(PGConnection.class).getNotifications(10_000);
            assertNotNull(got);
            assertEquals("direct", got[0].getParameter());
        }
    }

    @Test
    void cancelOfALongQueryGives57014Quickly() throws Exception {
        try (Connection c = viaProxy(); Statement st = c.createStatement()) {
            long started = System.nanoTime();
            CompletableFuture<SQLException> running = CompletableFuture.supplyAsync(() -> {
                try {
                    st.execute("SELECT pg_sleep(30)");
                    return null;
                } catch (SQLException e) {
                    return e;
                }
            });
            try (Connection su = pg.superuser(pg.db())) {
                await("pg_sleep(30) is active on the backend").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                        .until(() -> scalar(su, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(30)'") == 1);
            }
            st.cancel();
            SQLException e = running.get(15, TimeUnit.SECONDS);
            assertNotNull(e, "the query completed instead of being cancelled");
            assertEquals("57014", e.getSQLState(), e.getMessage());
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(20), "cancel took too long");
            assertEquals(1, scalar(c, "SELECT 1"), "the session goes on after a cancel");
        }
    }

    // ------------------------------------------------------------------ values

    @Test
    void unicodeTextAndNullsRoundTrip() throws SQLException {
        List<String> values = List.of("", "plain ascii", "é à ü ß ñ", "日本語のテキスト", "emoji 🐘🚀 surrogate pairs",
                "combining e\u0301 and zero\u200Bwidth", "tab\tnewline\nquote'backslash\\", "x".repeat(100_000));
        try (Connection d = direct()) {
            exec(d, "CREATE TABLE uni_t(id int, t text, i int, b bytea, j jsonb)");
        }
        try (Connection c = viaProxy("prepareThreshold", "1");
             PreparedStatement ins = c.prepareStatement("INSERT INTO uni_t VALUES (?, ?, ?, ?, ?::jsonb)")) {
            for (int k = 0; k < values.size(); k++) {
                ins.setInt(1, k);
                ins.setString(2, values.get(k));
                ins.setNull(3, Types.INTEGER);
                ins.setNull(4, Types.BINARY);
                ins.setString(5, "{\"v\": \"" + values.get(k).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n") + "\"}");
                ins.executeUpdate();
            }
            ins.setInt(1, 99);
            ins.setNull(2, Types.VARCHAR);
            ins.setInt(3, 7);
            ins.setBytes(4, new byte[] {0, 1, (byte) 0xff});
            ins.setNull(5, Types.OTHER);
            ins.executeUpdate();
        }
        String q = "SELECT id, t, i, b, j ->> 'v' FROM uni_t ORDER BY id";
        try (Connection p = viaProxy(); Connection d = direct(); Connection simple = viaProxy("preferQueryMode", "simple")) {
            List<String> expected = rows(d, q);
            assertEquals(expected, rows(p, q));
            assertEquals(expected, rows(simple, q));
            try (Statement st = p.createStatement(); ResultSet rs = st.executeQuery(q)) {
                for (String v : values) {
                    assertTrue(rs.next());
                    assertEquals(v, rs.getString(2));
                    assertEquals(v, rs.getString(5));
                    assertNull(rs.getObject(3));
                    assertNull(rs.getBytes(4));
                }
                assertTrue(rs.next());
                assertNull(rs.getString(2));
                assertEquals(7, rs.getInt(3));
                assertArrayEquals(new byte[] {0, 1, (byte) 0xff}, rs.getBytes(4));
                assertNull(rs.getString(5));
                assertFalse(rs.next());
            }
        }
    }

    // ------------------------------------------------------------------ session reset

    @Test
    void aSessionsSetSurvivesInTheSessionButTheNextClientOnTheSameBackendDoesNotSeeIt() throws SQLException {
        String defaultWorkMem;
        try (Connection d = direct(); Statement st = d.createStatement(); ResultSet rs = st.executeQuery("SHOW work_mem")) {
            rs.next();
            defaultWorkMem = rs.getString(1);
        }
        assertNotEquals("7MB", defaultWorkMem);
        // one backend only, so the second client is bound to get the first one's backend back
        try (ProxyFixture single = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.pool.size = 1\n")) {
            long firstPid;
            try (Connection c = single.connect(TRUST_USER, null, "app_trust")) {
                firstPid = scalar(c, "SELECT pg_backend_pid()");
                exec(c, "SET work_mem = '7MB'");
                exec(c, "CREATE TEMP TABLE session_tmp(x int)");
                exec(c, "PREPARE sql_level_prep AS SELECT 1");
                c.setAutoCommit(false);
                exec(c, "INSERT INTO session_tmp VALUES (1)");
                c.commit();
                c.setAutoCommit(true);
                assertEquals(List.of("7MB"), rows(c, "SHOW work_mem"));
                assertEquals(1, scalar(c, "SELECT count(*) FROM session_tmp"));
                assertEquals(firstPid, scalar(c, "SELECT pg_backend_pid()"), "session mode keeps one backend per session");
            }
            try (Connection c = single.connect(TRUST_USER, null, "app_trust")) {
                assertEquals(firstPid, scalar(c, "SELECT pg_backend_pid()"), "the backend should have been reused");
                assertEquals(List.of(defaultWorkMem), rows(c, "SHOW work_mem"));
                assertEquals(List.of("null"), rows(c, "SELECT to_regclass('session_tmp')::text"));
                assertEquals(0, scalar(c, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'sql_level_prep'"));
            }
        }
    }

    // ------------------------------------------------------------------ idle timeout

    @Test
    void aClientIdleRightAfterLoginIsClosedWith57P05PastTheIdleTimeout() throws Exception {
        try (ProxyFixture idle = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.limits.client-idle-timeout = 1s\n");
             PgWire w = PgWire.connect(idle.port(), Duration.ofSeconds(10))) {
            w.loginTrust(TRUST_USER, "app_trust");
            PgWire.Reaction r = w.awaitReaction();
            PgWire.Reaction.Error e = assertInstanceOf(PgWire.Reaction.Error.class, r, "expected 57P05, got " + r);
            assertEquals("57P05", e.sqlState(), e.fields().toString());
        }
    }

    /** README: client-idle-timeout closes an idle client with 57P05; "idle" includes after a query. */
    @Test
    void aClientIdleAfterAQueryIsClosedWith57P05PastTheIdleTimeout() throws Exception {
        try (ProxyFixture idle = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.limits.client-idle-timeout = 1s\n");
             PgWire w = PgWire.connect(idle.port(), Duration.ofSeconds(10))) {
            w.loginTrust(TRUST_USER, "app_trust");
            w.write(PgWire.query("SELECT 1"));
            assertEquals('Z', w.readUntilReady().getLast().tag());
            long t0 = System.nanoTime();
            PgWire.Reaction r = w.awaitReaction(); // blocks on the socket, SO_TIMEOUT 10 s > idle timeout 1 s
            PgWire.Reaction.Error e = assertInstanceOf(PgWire.Reaction.Error.class, r, "expected 57P05, got " + r);
            assertEquals("57P05", e.sqlState(), e.fields().toString());
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(800), "closed before the idle timeout");
            assertTrue(w.awaitClosed());
        }
    }

    // ------------------------------------------------------------------ helpers

    static String md5Hex(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code size} deterministic pseudo-random bytes, generated as they are read (never held in memory). */
    static final class PseudoRandomStream extends InputStream {
        private final SplittableRandom random;
        private long remaining;

        PseudoRandomStream(long size, long seed) {
            this.remaining = size;
            this.random = new SplittableRandom(seed);
        }

        @Override
        public int read() {
            if (remaining <= 0) return -1;
            remaining--;
            return random.nextInt(256);
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (remaining <= 0) return -1;
            int n = (int) Math.min(len, remaining);
            for (int i = 0; i < n; i++) b[off + i] = (byte) random.nextInt(256);
            remaining -= n;
            return n;
        }
    }
}
