package io.pgproxy.client;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The allocation-free test that decides whether a statement's text is worth a closer look. */
class RequestScannerTest {
    private static boolean worth(String sql) {
        ByteBuffer b = ByteBuffer.wrap(sql.getBytes(StandardCharsets.UTF_8));
        return RequestScanner.worthALook(b, 0, b.limit());
    }

    @Test
    void statementsThatMayPinDeallocateOrSetAreLookedAt() {
        assertTrue(worth("  set TimeZone = 'UTC'"));
        assertTrue(worth("SET search_path TO a"));
        assertTrue(worth("CREATE TEMP TABLE t (x int)"));
        assertTrue(worth("create local temporary table t (x int)"));
        assertTrue(worth("select 1 into TEMP t"));
        assertTrue(worth("SELECT pg_advisory_lock(1)"));
        assertTrue(worth("select pg_try_advisory_lock(1)"));
        assertTrue(worth("DEALLOCATE ALL"));
        assertTrue(worth("discard all"));
    }

    @Test
    void ordinaryStatementsAreNot() {
        assertFalse(worth("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;"));
        assertFalse(worth("UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 3;"));
        assertFalse(worth("BEGIN"));
        assertFalse(worth(""));
        assertFalse(worth("se"));
    }
}
