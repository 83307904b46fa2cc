package io.pgproxy.it;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * pgjdbc clients writing a ledger (a table of {@code id int PRIMARY KEY, note text}) in small
 * transactions while every backend connection is cut, again and again: what each client was
 * told is kept, to check against what the table holds. A client that hangs fails the run.
 * (pgjdbc prepares its own COMMIT by name after a few uses, so that path is taken too.)
 */
final class LedgerChurn {
    /** What a cut may tell a client: its statement or block lost, a COMMIT's outcome unknown, no backend for a moment. */
    private static final Set<String> LOSS_STATES = Set.of("08006", "08007", "25P02", "08001", "08003");

    private final Set<Integer> committed = ConcurrentHashMap.newKeySet();
    /** Transactions answered with an error that rolls them back, with that error. */
    private final Map<Integer, String> rolledBack = new ConcurrentHashMap<>();
    /** The first message of each SQLSTATE, to tell what an unexpected one was. */
    private final Map<String, String> errors = new ConcurrentHashMap<>();

    private LedgerChurn() {
    }

    /**
     * {@code clients} clients insert and read back rows of {@code table} from {@code firstId} on,
     * one transaction each; {@code cut} runs {@code cuts} times, each after 30 more commits.
     */
    static LedgerChurn run(int clients, int cuts, Callable<Connection> client, String table, int firstId, Runnable cut)
            throws Exception {
        LedgerChurn churn = new LedgerChurn();
        AtomicInteger nextId = new AtomicInteger(firstId);
        AtomicInteger commits = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        // No cut before every client is in: pgjdbc's own queries at connect are not what is tested.
        java.util.concurrent.CountDownLatch connected = new java.util.concurrent.CountDownLatch(clients);
        List<Future<?>> workers = new ArrayList<>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int w = 0; w < clients; w++) {
                workers.add(pool.submit(() -> {
                    try (Connection c = client.call(); Statement s = c.createStatement()) {
                        c.setAutoCommit(false);
                        connected.countDown();
                        while (running.get() && !c.isClosed()) {
                            int id = nextId.incrementAndGet();
                            try {
                                s.execute("INSERT INTO " + table + " VALUES (" + id + ", 'churn')");
                                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table + " WHERE id = " + id)) {
                                    rs.next();
                                }
                                c.commit();
                                churn.committed.add(id);
                                commits.incrementAndGet();
                            } catch (SQLException e) {
                                churn.errors.putIfAbsent(e.getSQLState(), e.getMessage());
                                if (!"08007".equals(e.getSQLState())) {
                                    churn.rolledBack.put(id, e.getSQLState() + " " + e.getMessage());
                                }
                                try {
                                    c.rollback();
                                } catch (SQLException cutToo) {
                                    // The ROLLBACK met a cut too: the block is gone either way.
                                    churn.errors.putIfAbsent(cutToo.getSQLState(), cutToo.getMessage());
                                }
                            }
                        }
                    }
                    return null;
                }));
            }
            await().atMost(30, TimeUnit.SECONDS).until(() -> connected.getCount() == 0);
            for (int i = 0; i <= cuts; i++) {
                int before = commits.get();
                await().atMost(30, TimeUnit.SECONDS).until(() -> commits.get() > before + 30);
                if (i < cuts) {
                    cut.run();
                }
            }
            running.set(false);
            for (Future<?> f : workers) {
                f.get(60, TimeUnit.SECONDS);
            }
        }
        return churn;
    }

    /** SQLSTATEs the clients got, each with its first message. */
    Map<String, String> errors() {
        return errors;
    }

    /**
     * Only losses were reported; every acknowledged commit is in {@code table}, and nothing of
     * a transaction answered with an error other than 08007 (outcome unknown) is.
     */
    void assertOutcomes(Connection superuser, String table) throws SQLException {
        for (Map.Entry<String, String> e : errors.entrySet()) {
            assertTrue(LOSS_STATES.contains(e.getKey()), "unexpected " + e.getKey() + ": " + e.getValue());
        }
        Set<Integer> present = new HashSet<>();
        try (Statement s = superuser.createStatement();
             ResultSet rs = s.executeQuery("SELECT id FROM " + table + " WHERE note = 'churn'")) {
            while (rs.next()) {
                present.add(rs.getInt(1));
            }
        }
        for (int id : committed) {
            assertTrue(present.contains(id), "an acknowledged commit is missing: " + id + "; errors " + errors);
        }
        for (Map.Entry<Integer, String> r : rolledBack.entrySet()) {
            assertFalse(present.contains(r.getKey()), "a transaction answered with an error left its row: " + r);
        }
    }
}
