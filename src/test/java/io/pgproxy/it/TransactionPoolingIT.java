package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import io.pgproxy.pool.Pool;
import io.pgproxy.session.PinReason;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static io.pgproxy.fixtures.Sql.one;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Transaction pooling against a real PostgreSQL with pgjdbc: correctness, isolation, pins, limits. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class TransactionPoolingIT {
    private static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) throws SQLException {
        pg = database;
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE ledger (client int NOT NULL, n int NOT NULL)");
            s.execute("GRANT ALL ON ledger TO trust_user");
        }
    }

    private static ProxyFixture proxy(String overrides) {
        return ProxyFixture.startTransactionPooling(pg, overrides);
    }

    /**
     * Server-side prepared statements move across backends only with issue 5; until then the
     * tests keep pgjdbc from naming statements.
     */
    private static Connection connect(ProxyFixture proxy) throws SQLException {
        Properties p = new Properties();
        p.setProperty("prepareThreshold", "0");
        return proxy.connect(PostgresFixture.TRUST_USER, null, "app_trust", p);
    }

    private static int backendPid(Statement s) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static Pool pool(ProxyFixture proxy) {
        return proxy.pool("app_trust");
    }

    @Test
    void fiveHundredClientsOverTenBackendsSeeOnlyTheirOwnTransactions() throws Exception {
        int clients = 500;
        int transactions = 12;
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 10\n")) {
            Map<Integer, Integer> backendInUse = new ConcurrentHashMap<>();
            AtomicInteger leaks = new AtomicInteger();
            AtomicLong committed = new AtomicLong();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> futures = new ArrayList<>();
                for (int i = 0; i < clients; i++) {
                    int me = i;
                    futures.add(pool.submit(() -> {
                        try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                            long mine = 0;
                            for (int t = 0; t < transactions; t++) {
                                c.setAutoCommit(false);
                                int pid = backendPid(s);
                                if (backendInUse.putIfAbsent(pid, me) != null) {
                                    leaks.incrementAndGet();
                                }
                                s.executeUpdate("INSERT INTO ledger VALUES (" + me + ", " + t + ")");
                                long seen = Long.parseLong(one(s, "SELECT count(*) FROM ledger WHERE client = " + me));
                                assertEquals(mine + 1, seen, "a transaction sees its own insert and its committed ones");
                                // Released before COMMIT is sent: from here on the backend may go to another client.
                                backendInUse.remove(pid, me);
                                if (t % 3 == 2) {
                                    c.rollback();
                                } else {
                                    c.commit();
                                    mine++;
                                }
                                c.setAutoCommit(true);
                            }
                            committed.addAndGet(mine);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : futures) {
                    f.get(4, TimeUnit.MINUTES);
                }
            }
            assertEquals(0, leaks.get(), "a backend was used by two clients inside their transactions at once");
            try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                assertEquals(committed.get(), Long.parseLong(one(s, "SELECT count(*) FROM ledger")));
                assertEquals((long) clients * (transactions - transactions / 3), committed.get());
            }
            // A backend returning while another client opened one may overshoot the size for a
            // moment; the janitor trims the surplus.
            await().atMost(Duration.ofSeconds(10)).until(() -> pool(proxy).openConnections() <= 10);
        }
    }

    @Test
    void parametersAreIsolatedBetweenClientsOnOneBackend() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             Connection a = connect(proxy); Connection b = connect(proxy);
             Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
            String defaultZone = one(sb, "SHOW TimeZone");
            int pid = backendPid(sa);
            sa.execute("SET TimeZone = 'Pacific/Auckland'");
            sa.execute("SET application_name = 'client-a'");
            assertEquals(pid, backendPid(sb), "pool of one: both clients share the backend");
            assertEquals(defaultZone, one(sb, "SHOW TimeZone"));
            assertNotEquals("client-a", one(sb, "SHOW application_name"));
            assertEquals("Pacific/Auckland", one(sa, "SHOW TimeZone"));
            assertEquals("client-a", one(sa, "SHOW application_name"));
            sb.execute("SET TimeZone = 'America/Lima'");
            assertEquals("Pacific/Auckland", one(sa, "SHOW TimeZone"));
            assertEquals("America/Lima", one(sb, "SHOW TimeZone"));
        }
    }

    @Test
    void aClientMovedToAnotherBackendKeepsItsParameters() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Connection a = connect(proxy); Statement sa = a.createStatement()) {
            sa.execute("SET TimeZone = 'Asia/Kolkata'");
            int first = backendPid(sa);
            // Another client holds A's backend inside a transaction, so A's next statement must move.
            try (Connection b = connect(proxy); Statement sb = b.createStatement()) {
                b.setAutoCommit(false);
                int seenByB = backendPid(sb);
                for (int tries = 0; seenByB != first && tries < 20; tries++) {
                    b.rollback();
                    seenByB = backendPid(sb);
                }
                assertEquals(first, seenByB);
                assertNotEquals(first, backendPid(sa), "A runs on the other backend now");
                assertEquals("Asia/Kolkata", one(sa, "SHOW TimeZone"));
                b.rollback();
            }
        }
    }

    @Test
    void listenPinsAndNotificationsArrive() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Connection listener = connect(proxy); Connection notifier = connect(proxy);
             Statement sl = listener.createStatement(); Statement sn = notifier.createStatement()) {
            // Counted per pool of this proxy: a fresh proxy starts from none.
            sl.execute("LISTEN jobs");
            assertEquals(1, pool(proxy).stats().pins().get(PinReason.LISTEN));
            sn.execute("NOTIFY jobs, 'hello'");
            PGNotification[] got = await().atMost(Duration.ofSeconds(10))
                    .until(() -> {
                        sl.execute("SELECT 1");
                        return listener.unwrap(PGConnection.class).getNotifications();
                    }, n -> n != null && n.length > 0);
            assertEquals("hello", got[0].getParameter());
        }
    }

    @Test
    void sqlPrepareTemporaryTablesHoldCursorsAndAdvisoryLocksPin() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 4\n")) {
            try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                s.execute("PREPARE two AS SELECT 2");
                for (int i = 0; i < 5; i++) {
                    assertEquals("2", one(s, "EXECUTE two"));
                }
            }
            try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                s.execute("CREATE TEMP TABLE scratch (x int)");
                s.execute("INSERT INTO scratch VALUES (1)");
                assertEquals("1", one(s, "SELECT count(*) FROM scratch"));
            }
            try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                s.execute("DECLARE held CURSOR WITH HOLD FOR SELECT generate_series(1, 3)");
                c.commit();
                c.setAutoCommit(true);
                assertEquals("1", one(s, "FETCH NEXT FROM held"));
                assertEquals("2", one(s, "FETCH NEXT FROM held"));
            }
            try (Connection c = connect(proxy); Statement s = c.createStatement();
                 Connection other = connect(proxy); Statement so = other.createStatement()) {
                s.execute("SELECT pg_advisory_lock(42)");
                assertEquals("f", one(so, "SELECT pg_try_advisory_lock(42)"));
                assertEquals("t", one(s, "SELECT pg_advisory_unlock(42)"));
            }
            try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                // A list is not a plain SET the proxy can replay, and search_path is unreported before PostgreSQL 18.
                s.execute("SET search_path = public, pg_catalog");
                for (int i = 0; i < 3; i++) {
                    assertEquals("public, pg_catalog", one(s, "SHOW search_path"));
                }
            }
            Map<PinReason, Long> after = pool(proxy).stats().pins();
            for (PinReason r : List.of(PinReason.SQL_PREPARE, PinReason.TEMPORARY_TABLE, PinReason.CURSOR_WITH_HOLD,
                    PinReason.ADVISORY_LOCK, PinReason.UNTRACKED_SET)) {
                assertTrue(after.get(r) > 0, "pinned for " + r);
            }
        }
    }

    /** Whether a second client can get the pool's only backend within the (short) wait timeout. */
    private static boolean backendFreeForAnother(ProxyFixture proxy) throws SQLException {
        try (Connection other = connect(proxy); Statement so = other.createStatement()) {
            so.execute("SELECT 1");
            return true;
        } catch (SQLException e) {
            assertEquals("53300", e.getSQLState());
            return false;
        }
    }

    @Test
    void clientsThatLeaveRightAfterTheirReplyKeepTheBackendReusable() throws Exception {
        // A client that closes as soon as it has its answer races the backend's reader, which
        // forwards the ReadyForQuery and then does its bookkeeping. The backend must come back
        // to the pool either way, not be closed as if a reply were still owed.
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n")) {
            java.util.Set<Integer> pids = new java.util.HashSet<>();
            for (int i = 0; i < 60; i++) {
                try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                    pids.add(backendPid(s));
                }
            }
            assertEquals(1, pids.size(), "one backend served every client: " + pids);
        }
    }

    @Test
    void resetTakesAPlainSetBackEverywhereTheClientGoes() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Connection c = connect(proxy); Statement s = c.createStatement();
             Connection other = connect(proxy); Statement so = other.createStatement()) {
            String workMem = one(s, "SHOW work_mem");
            String temp = one(s, "SHOW temp_buffers");
            s.execute("SET work_mem = '7MB'");
            s.execute("SET temp_buffers = '9MB'");
            s.execute("RESET work_mem");
            // The other client takes the backend that last served this one; this one moves
            // to the second backend and brings only what it still has set.
            other.setAutoCommit(false);
            so.execute("SELECT 1");
            assertEquals(workMem, one(s, "SHOW work_mem"));
            assertEquals("9MB", one(s, "SHOW temp_buffers"));
            other.commit();

            s.execute("RESET ALL");
            other.setAutoCommit(false);
            so.execute("SELECT 1");
            assertEquals(temp, one(s, "SHOW temp_buffers"));
            other.commit();
            assertEquals(0, pool(proxy).stats().pins().get(PinReason.UNTRACKED_SET), "recognised RESETs do not pin");
        }
    }

    @Test
    void discardAllEndsEveryPin() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\npgproxy.pool.wait-timeout = 500ms\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            int pid = backendPid(s);
            String workMem = one(s, "SHOW work_mem");
            s.execute("SET work_mem = '7MB'");
            s.execute("LISTEN jobs");
            s.execute("PREPARE two AS SELECT 2");
            s.execute("CREATE TEMP TABLE scratch (x int)");
            s.execute("SELECT pg_advisory_lock(7)");
            s.execute("SET search_path = public, pg_catalog");
            c.setAutoCommit(false);
            s.execute("DECLARE held CURSOR WITH HOLD FOR SELECT 1");
            c.commit();
            c.setAutoCommit(true);
            assertFalse(backendFreeForAnother(proxy), "pinned: the only backend stays with its client");

            s.execute("DISCARD ALL");
            await().atMost(Duration.ofSeconds(10)).until(() -> pool(proxy).leasedConnections() == 0);
            assertEquals(1, pool(proxy).stats().unpins());
            assertTrue(backendFreeForAnother(proxy), "unpinned: the backend is shared again");
            // Back on the same backend, with nothing of the old session state left.
            assertEquals(pid, backendPid(s));
            assertEquals("0", one(s, "SELECT count(*) FROM pg_prepared_statements"));
            assertEquals("0", one(s, "SELECT count(*) FROM pg_listening_channels()"));
            assertEquals("0", one(s, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"));
            assertEquals("\"$user\", public", one(s, "SHOW search_path"));
            // A plain SET is replayed on the backends a client lands on; DISCARD ALL ended it too.
            assertEquals(workMem, one(s, "SHOW work_mem"));
        }
    }

    @Test
    void deallocateAllEndsOnlyTheSqlPreparePin() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\npgproxy.pool.wait-timeout = 500ms\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            long unpins = proxy.unpins();
            s.execute("PREPARE two AS SELECT 2");
            assertEquals("2", one(s, "EXECUTE two"));
            assertFalse(backendFreeForAnother(proxy));
            s.execute("DEALLOCATE ALL");
            await().atMost(Duration.ofSeconds(10)).until(() -> pool(proxy).leasedConnections() == 0);
            assertEquals(unpins + 1, proxy.unpins());
            assertTrue(backendFreeForAnother(proxy));

            // A LISTEN is not prepared-statement state: DEALLOCATE ALL leaves that pin alone.
            s.execute("LISTEN jobs");
            s.execute("PREPARE three AS SELECT 3");
            s.execute("DEALLOCATE ALL");
            assertFalse(backendFreeForAnother(proxy), "still pinned by LISTEN");
            assertEquals(unpins + 1, proxy.unpins());
            // Nor does a finer signal that a rollback could undo.
            s.execute("UNLISTEN *");
            assertFalse(backendFreeForAnother(proxy), "UNLISTEN keeps the pin");
        }
    }

    @Test
    void poolExhaustionGives53300AndThePoolRecovers() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\npgproxy.pool.wait-timeout = 500ms\n");
             Connection holder = connect(proxy); Connection waiter = connect(proxy);
             Statement sh = holder.createStatement(); Statement sw = waiter.createStatement()) {
            holder.setAutoCommit(false);
            sh.execute("SELECT 1");
            SQLException e = assertThrows(SQLException.class, () -> sw.execute("SELECT 1"));
            assertEquals("53300", e.getSQLState());
            holder.commit();
            try (Connection again = connect(proxy); Statement sa = again.createStatement()) {
                assertEquals("1", one(sa, "SELECT 1"));
            }
        }
    }

    @Test
    void queryTimeoutCancelsWith57014AndTheSessionGoesOn() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.limits.query-timeout = 500ms\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            SQLException e = assertThrows(SQLException.class, () -> s.execute("SELECT pg_sleep(30)"));
            assertEquals("57014", e.getSQLState());
            assertEquals("1", one(s, "SELECT 1"));
        }
    }

    @Test
    void idleInTransactionTimeoutCloses25P03AndRollsBack() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.limits.idle-transaction-timeout = 500ms\npgproxy.pool.size = 1\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.executeUpdate("INSERT INTO ledger VALUES (-7, 0)");
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().clientCount() == 0);
            SQLException e = assertThrows(SQLException.class, () -> s.execute("SELECT 1"));
            assertNotNull(e.getSQLState());
            try (Connection d = connect(proxy); Statement sd = d.createStatement()) {
                assertEquals("0", one(sd, "SELECT count(*) FROM ledger WHERE client = -7"), "rolled back");
            }
        }
    }

    @Test
    void cancelReachesTheLeasedBackend() throws Exception {
        try (ProxyFixture proxy = proxy("");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                Future<SQLException> running = ex.submit(() -> {
                    try {
                        s.execute("SELECT pg_sleep(30)");
                        return null;
                    } catch (SQLException e) {
                        return e;
                    }
                });
                await().atMost(Duration.ofSeconds(10)).until(() -> sleeping() > 0);
                s.cancel();
                SQLException e = running.get(20, TimeUnit.SECONDS);
                assertNotNull(e);
                assertEquals("57014", e.getSQLState());
            }
            assertEquals("1", one(s, "SELECT 1"));
        }
    }

    private static int sleeping() throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return Integer.parseInt(one(s, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'"));
        }
    }

    @Test
    void disconnectInsideATransactionRollsBackAndTheBackendIsReused() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n")) {
            int pid;
            try (Connection c = connect(proxy); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                pid = backendPid(s);
                s.executeUpdate("INSERT INTO ledger VALUES (-9, 0)");
            }
            try (Connection d = connect(proxy); Statement sd = d.createStatement()) {
                assertEquals("0", one(sd, "SELECT count(*) FROM ledger WHERE client = -9"));
                assertEquals(pid, backendPid(sd), "the rolled-back backend was kept and reused");
            }
        }
    }

    @Test
    void idleBackendsAreClosedAfterTheServerIdleTimeout() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.server-idle-timeout = 300ms\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            assertEquals("1", one(s, "SELECT 1"));
            await().atMost(Duration.ofSeconds(10)).until(() -> pool(proxy).openConnections() == 0);
            assertEquals("1", one(s, "SELECT 1"), "a new backend is opened on demand");
        }
    }

    @Test
    void clientIdleTimeoutCloses() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.limits.client-idle-timeout = 300ms\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            assertEquals("1", one(s, "SELECT 1"));
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().clientCount() == 0);
            assertThrows(SQLException.class, () -> s.execute("SELECT 1"));
        }
    }

    @Test
    void anIdleClientHoldsNoBackend() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 3\n")) {
            List<Connection> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 20; i++) {
                    Connection c = connect(proxy);
                    idle.add(c);
                    try (Statement s = c.createStatement()) {
                        assertEquals("1", one(s, "SELECT 1"));
                    }
                }
                Pool p = pool(proxy);
                await().atMost(Duration.ofSeconds(10)).until(() -> p.leasedConnections() == 0
                        && proxy.server().buffers().leased() == 0);
                assertTrue(p.openConnections() <= 3);
            } finally {
                for (Connection c : idle) {
                    c.close();
                }
            }
            assertFalse(proxy.server().clientCount() > 20);
        }
    }

    @Test
    void aTrackedSetsReportDoesNotHideAnUntrackedSetPipelinedWithIt() throws Exception {
        try (ProxyFixture proxy = proxy("");
             PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(10))) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "app_trust");
            // One write: both replies, and application_name's ParameterStatus, usually come back
            // before the backend settles once.
            wire.write(PgWire.query("SET application_name = 'pipelined'"),
                    PgWire.query("SET search_path = public, pg_catalog"));
            wire.readUntilReady();
            wire.readUntilReady();
            wire.write(PgWire.query("SHOW search_path"));
            List<PgWire.Message> shown = wire.readUntilReady();
            assertTrue(shown.stream().anyMatch(m -> m.tag() == 'D'
                    && new String(m.body(), java.nio.charset.StandardCharsets.UTF_8).contains("public, pg_catalog")));
            assertTrue(proxy.pins(PinReason.UNTRACKED_SET) > 0);
        }
    }

    @Test
    void pgbenchTwoHundredClientsOverTenBackends() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/pgbench")), "pgbench not installed");
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 10\n")) {
            String conn = "host=127.0.0.1 port=" + proxy.port() + " dbname=app_trust user=trust_user sslmode=disable";
            assertEquals(0, run("pgbench", "-i", "-s", "1", "-q", conn).exitCode());
            for (String mode : List.of("simple", "extended")) {
                Result r = run("pgbench", "-n", "-c", "200", "-j", "2", "-T", "3", "-M", mode, conn);
                assertEquals(0, r.exitCode(), r.output());
                assertTrue(r.output().contains("number of failed transactions: 0"), r.output());
            }
            // Select-only: pgbench prepares each statement with a blocking PQprepare on its
            // first use, which in a multi-statement transaction waits for a backend while the
            // same thread's other clients hold all of them inside transactions.
            Result r = run("pgbench", "-n", "-S", "-c", "200", "-j", "2", "-T", "3", "-M", "prepared", conn);
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().contains("number of failed transactions: 0"), r.output());
        }
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(2, TimeUnit.MINUTES));
        return new Result(p.exitValue(), out);
    }
    // ---- protocol edges in transaction mode (raw wire) ----

    private static byte[] parse(String sql) {
        return PgWire.frame('P', PgWire.concat(cstr(""), cstr(sql), new byte[]{0, 0}));
    }

    private static byte[] bind() {
        return PgWire.frame('B', PgWire.concat(cstr(""), cstr(""), new byte[]{0, 0, 0, 0, 0, 0}));
    }

    private static byte[] execute() {
        return PgWire.frame('E', PgWire.concat(cstr(""), new byte[]{0, 0, 0, 0}));
    }

    private static byte[] cstr(String s) {
        return PgWire.concat(s.getBytes(java.nio.charset.StandardCharsets.UTF_8), new byte[]{0});
    }

    private static final byte[] SYNC = PgWire.frame('S', new byte[0]);
    private static final byte[] FLUSH = PgWire.frame('H', new byte[0]);

    private static String tags(List<PgWire.Message> messages) {
        StringBuilder b = new StringBuilder();
        messages.forEach(m -> b.append(m.tag()));
        return b.toString();
    }

    @Test
    void anErrorAfterFlushWithoutSyncKeepsTheBackendUntilSync() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\npgproxy.pool.wait-timeout = 300ms\n");
             PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(10));
             Connection other = connect(proxy); Statement so = other.createStatement()) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "app_trust");
            wire.write(parse("SELECT 1 / (random() * 0)::int"), bind(), execute(), FLUSH);
            assertEquals('1', wire.readMessage().tag());
            assertEquals('2', wire.readMessage().tag());
            assertEquals('E', wire.readMessage().tag());
            // The backend now skips to Sync: it must not be handed to anyone else.
            {
                SQLException e = assertThrows(SQLException.class, () -> so.execute("SELECT 1"));
                assertEquals("53300", e.getSQLState());
                wire.write(SYNC);
                PgWire.Message z = wire.readMessage();
                assertEquals('Z', z.tag());
                assertEquals('I', (char) z.body()[0]);
                // 53300 ends that client's connection (as PgBouncer's query_wait_timeout does).
                try (Connection again = connect(proxy); Statement sg = again.createStatement()) {
                    assertEquals("1", one(sg, "SELECT 1"), "released at ReadyForQuery idle");
                }
            }
        }
    }

    @Test
    void aPipelineWithAnErrorInTheMiddleSkipsToSync() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(10))) {
            wire.loginTrust(PostgresFixture.TRUST_USER, "app_trust");
            wire.write(parse("SELECT 1"), bind(), execute(),
                    parse("SELECT 1 / (random() * 0)::int"), bind(), execute(),
                    parse("SELECT 3"), bind(), execute(), SYNC,
                    parse("SELECT 4"), bind(), execute(), SYNC);
            List<PgWire.Message> got = new ArrayList<>();
            for (PgWire.Message m = wire.readMessage(); ; m = wire.readMessage()) {
                got.add(m);
                if (m.tag() == 'Z' && got.stream().filter(x -> x.tag() == 'Z').count() == 2) {
                    break;
                }
            }
            // First Sync: one row, then the error, then nothing until ReadyForQuery; second Sync runs normally.
            assertEquals("12DC12EZ12DCZ", tags(got));
            try (Connection other = connect(proxy); Statement so = other.createStatement()) {
                assertEquals("1", one(so, "SELECT 1"), "the backend went back clean");
            }
        }
    }

    @Test
    void copyInAndOutInTransactionMode() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             Connection c = connect(proxy); Connection other = connect(proxy);
             Statement s = c.createStatement(); Statement so = other.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS copied (n int)");
            org.postgresql.copy.CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            StringBuilder rows = new StringBuilder();
            for (int i = 0; i < 10_000; i++) {
                rows.append(i).append('\n');
            }
            assertEquals(10_000, copy.copyIn("COPY copied FROM STDIN", new java.io.StringReader(rows.toString())));
            assertEquals("10000", one(so, "SELECT count(*) FROM copied"), "another client shares the one backend after COPY");
            java.io.StringWriter out = new java.io.StringWriter();
            assertEquals(10_000, copy.copyOut("COPY copied TO STDOUT", out));
            assertEquals(rows.toString(), out.toString());
            assertEquals("1", one(so, "SELECT 1"));
        }
    }

    @Test
    void aCancelRequestFromAClientWithoutALeaseCancelsNothing() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             PgWire idle = PgWire.connect(proxy.port(), Duration.ofSeconds(10));
             Connection busy = connect(proxy); Statement sb = busy.createStatement()) {
            List<PgWire.Message> login = idle.loginTrust(PostgresFixture.TRUST_USER, "app_trust");
            java.nio.ByteBuffer key = login.stream().filter(m -> m.tag() == 'K').findFirst().orElseThrow().buffer();
            int pid = key.getInt();
            int secret = key.getInt();
            try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                Future<String> sleeping = ex.submit(() -> one(sb, "SELECT pg_sleep(1)::text || 'done'"));
                await().atMost(Duration.ofSeconds(10)).until(() -> sleeping() + sleepingOne() > 0);
                try (PgWire cancel = PgWire.connect(proxy.port(), Duration.ofSeconds(5))) {
                    cancel.write(PgWire.cancelRequest(pid, secret));
                    assertTrue(cancel.awaitClosed());
                }
                assertEquals("done", sleeping.get(20, TimeUnit.SECONDS), "the other client's query ran to the end");
            }
            idle.write(PgWire.query("SELECT 1"));
            assertEquals('Z', idle.readUntilReady().getLast().tag());
        }
    }

    private static int sleepingOne() throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            return Integer.parseInt(one(s, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(1)%' AND state = 'active'"));
        }
    }

    @Test
    void aUsersPoolModeWinsOverTheDatabases() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + """
                pgproxy.pool.mode = session
                pgproxy.pool.size = 1
                pgproxy.pool.wait-timeout = 300ms
                pgproxy.users.trust_user.pool-mode = transaction
                """);
             Connection a = connect(proxy); Connection b = connect(proxy);
             Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
            for (int i = 0; i < 3; i++) {
                assertEquals("1", one(sa, "SELECT 1"));
                assertEquals("1", one(sb, "SELECT 1"), "two clients share one backend: transaction mode");
            }
        }
    }

    @Test
    void aBackendThatNeverAnswersTheLoginGives08001() throws Exception {
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
             ProxyFixture proxy = proxy("pgproxy.pool.server-connect-timeout = 300ms\n"
                     + "pgproxy.databases.silent { host = \"127.0.0.1\", port = " + silent.getLocalPort()
                     + ", user = \"trust_user\" }\n")) {
            SQLException e = assertThrows(SQLException.class, () -> proxy.connect(PostgresFixture.TRUST_USER, null, "silent"));
            assertEquals("08001", e.getSQLState());
        }
    }

    @Test
    void backendsPastTheirLifetimeAreReplacedBetweenTransactions() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\npgproxy.pool.server-lifetime = 200ms\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            int first = backendPid(s);
            await().atMost(Duration.ofSeconds(10)).until(() -> backendPid(s) != first);
        }
    }
    @Test
    void aClientsResetAllDoesNotLeaveOthersWithDefaultsTheyDidNotAskFor() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 1\n");
             PgWire a = PgWire.connect(proxy.port(), Duration.ofSeconds(10));
             Connection b = connect(proxy); Statement sb = b.createStatement()) {
            // extra_float_digits in the startup packet: a parameter the backend does not report.
            a.write(PgWire.startupMessage(PgWire.PROTOCOL_3_0, Map.of("user", PostgresFixture.TRUST_USER,
                    "database", "app_trust", "extra_float_digits", "3")));
            a.readUntilReady();
            assertEquals("3", showOverWire(a, "extra_float_digits"));
            sb.execute("RESET ALL");
            assertEquals("3", showOverWire(a, "extra_float_digits"), "set again after the other client's RESET ALL");
        }
    }

    private static String showOverWire(PgWire wire, String parameter) throws Exception {
        wire.write(PgWire.query("SHOW " + parameter));
        PgWire.Message row = wire.readUntilReady().stream().filter(m -> m.tag() == 'D').findFirst().orElseThrow();
        java.nio.ByteBuffer body = row.buffer();
        body.getShort();
        byte[] value = new byte[body.getInt()];
        body.get(value);
        return new String(value, java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void aPlainSetOfAnUnreportedParameterFollowsTheClientWithoutPinning() throws Exception {
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Connection a = connect(proxy); Statement sa = a.createStatement()) {
            sa.execute("SET work_mem = '7MB'");
            int first = backendPid(sa);
            try (Connection b = connect(proxy); Statement sb = b.createStatement()) {
                b.setAutoCommit(false);
                int seenByB = backendPid(sb);
                for (int tries = 0; seenByB != first && tries < 20; tries++) {
                    b.rollback();
                    seenByB = backendPid(sb);
                }
                assertEquals(first, seenByB, "b holds a's first backend");
                assertNotEquals(first, backendPid(sa), "a moved");
                assertEquals("7MB", one(sa, "SHOW work_mem"), "the SET was replayed on the new backend");
                assertNotEquals("7MB", one(sb, "SHOW work_mem"), "and did not leak to b");
                b.rollback();
            }
            assertEquals(0, proxy.pins(PinReason.UNTRACKED_SET), "a plain SET does not pin");
        }
    }
    @Test
    void statementsLongerThanTheRequestBufferAreRelayedAndLookedAt() throws Exception {
        String big = "x".repeat(5000);
        StringBuilder columns = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            columns.append(i == 0 ? "" : ", ").append("column_number_").append(i).append(" int");
        }
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Connection c = connect(proxy); Statement s = c.createStatement()) {
            assertEquals(big, one(s, "SELECT '" + big + "'"));
            s.execute("CREATE TEMP TABLE wide (" + columns + ")");
            s.execute("INSERT INTO wide (column_number_1) VALUES (1)");
            assertEquals("1", one(s, "SELECT count(*) FROM wide"));
            assertEquals(1, proxy.pins(PinReason.TEMPORARY_TABLE));
        }
    }
    @Test
    void aStatementTooLongToInspectWholeStillPins() throws Exception {
        // Over the 8 KiB inspected whole: only its start is looked at, and that is enough.
        String comment = "/* " + "x".repeat(20_000) + " */";
        try (ProxyFixture proxy = proxy("pgproxy.pool.size = 2\n");
             Connection c = connect(proxy); Statement s = c.createStatement();
             Connection other = connect(proxy); Statement so = other.createStatement()) {
            s.execute("CREATE TEMP TABLE report AS SELECT 7 AS x " + comment);
            assertEquals(1, proxy.pins(PinReason.TEMPORARY_TABLE));
            // Another client keeps the second backend busy in a transaction; the pinned client
            // still finds its table on its own backend.
            other.setAutoCommit(false);
            so.execute("SELECT 1");
            for (int i = 0; i < 3; i++) {
                assertEquals("7", one(s, "SELECT x FROM report"));
            }
            other.commit();
        }
    }

    @Test
    void statementModeSharesBackendsPerStatementAndRefusesTransactionBlocks() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg)
                + "pgproxy.pool.mode = statement\npgproxy.pool.size = 1\n");
             Connection a = connect(proxy); Connection b = connect(proxy);
             Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
            for (int i = 0; i < 3; i++) {
                assertEquals("1", one(sa, "SELECT 1"));
                assertEquals("2", one(sb, "SELECT 2"), "two clients share one backend statement by statement");
            }
            a.setAutoCommit(false);
            SQLException e = assertThrows(SQLException.class, () -> {
                sa.execute("SELECT 1");
                sa.execute("SELECT 2");
            });
            assertEquals("0A000", e.getSQLState());
            assertEquals("3", one(sb, "SELECT 3"), "the backend was rolled back and handed on");
        }
    }
    @Test
    void theOptionsStartupParameterSetsParametersInEveryMode() throws Exception {
        for (String mode : List.of("session", "transaction")) {
            try (ProxyFixture proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg)
                    + "pgproxy.pool.mode = " + mode + "\n");
                 PgWire wire = PgWire.connect(proxy.port(), Duration.ofSeconds(10))) {
                wire.write(PgWire.startupMessage(PgWire.PROTOCOL_3_0, Map.of("user", PostgresFixture.TRUST_USER,
                        "database", "app_trust", "options", "-c work_mem=7MB --statement-timeout=5s")));
                wire.readUntilReady();
                assertEquals("7MB", showOverWire(wire, "work_mem"), mode);
                assertEquals("5s", showOverWire(wire, "statement_timeout"), mode);
            }
        }
    }
}
