package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Many clients over few backends, every transaction on whichever backend is free: each switch
 * runs the hidden sync query, whose settle the backend's reader reports while the new client is
 * attaching. None of those settles may end a lease before its first request (seen under pgbench
 * as "internal error in pgproxy"), and no client may be refused or see another's answer.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(SharedPostgres.class)
class LeaseChurnIT {
    private static final int CLIENTS = 16;
    private static final int TRANSACTIONS = 1500;

    private static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    @Test
    void clientsSwitchingBackendsAtEveryTransactionNeverFail() throws Exception {
        try (ProxyFixture proxy = ProxyFixture.startTransactionPooling(pg, "pgproxy.pool.size = 2\n")) {
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            AtomicLong answered = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                int client = i;
                threads.add(Thread.ofPlatform().start(() -> {
                    Properties p = new Properties();
                    p.setProperty("prepareThreshold", "0");
                    try (Connection c = proxy.connect(PostgresFixture.TRUST_USER, null, "app_trust", p);
                         Statement s = c.createStatement()) {
                        for (int t = 0; t < TRANSACTIONS; t++) {
                            try (ResultSet rs = s.executeQuery("SELECT " + client + " * 100000 + " + t)) {
                                rs.next();
                                assertEquals(client * 100000L + t, rs.getLong(1), "an answer of this client's own");
                                answered.incrementAndGet();
                            }
                        }
                    } catch (SQLException | RuntimeException | AssertionError e) {
                        failures.add(e);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            if (!failures.isEmpty()) {
                AssertionError e = new AssertionError("failures: " + failures);
                failures.forEach(e::addSuppressed);
                throw e;
            }
            assertEquals((long) CLIENTS * TRANSACTIONS, answered.get());
        }
    }
}
