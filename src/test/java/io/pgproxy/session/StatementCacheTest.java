package io.pgproxy.session;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Proxy-wide statement names, a client's names, a backend's LRU. */
class StatementCacheTest {
    private static byte[] rest(String sql) {
        byte[] q = sql.getBytes(StandardCharsets.UTF_8);
        byte[] r = new byte[q.length + 3];
        System.arraycopy(q, 0, r, 0, q.length);
        return r;
    }

    @Test
    void sameTextAndTypesShareOneNameAcrossClients() {
        StatementRegistry registry = new StatementRegistry();
        ClientStatements a = new ClientStatements(registry);
        ClientStatements b = new ClientStatements(registry);
        PreparedStatement s1 = a.define("s1", rest("select 1"), 0);
        PreparedStatement s2 = b.define("other", rest("select 1"), 0);
        PreparedStatement s3 = b.define("s3", rest("select 2"), 0);
        assertSame(s1, s2);
        assertNotEquals(s1.name(), s3.name());
        assertTrue(s1.name().startsWith(PreparedStatement.NAME_PREFIX));
        assertEquals(2, registry.size());
    }

    @Test
    void theParseMessageCarriesTheProxyName() {
        PreparedStatement s = new StatementRegistry().acquire(rest("select $1"));
        byte[] m = s.parseMessage();
        assertEquals('P', m[0]);
        assertEquals(m.length - 1, java.nio.ByteBuffer.wrap(m, 1, 4).getInt());
        String name = new String(m, 5, s.name().length(), StandardCharsets.UTF_8);
        assertEquals(s.name(), name);
        assertArrayEquals(s.cname(), java.util.Arrays.copyOfRange(m, 5, 5 + s.name().length() + 1));
    }

    @Test
    void aNameIsForgottenWhenNoClientHoldsIt() {
        StatementRegistry registry = new StatementRegistry();
        ClientStatements a = new ClientStatements(registry);
        ClientStatements b = new ClientStatements(registry);
        a.define("x", rest("select 1"), 0);
        b.define("y", rest("select 1"), 0);
        a.close("x");
        assertEquals(1, registry.size());
        b.clear();
        assertEquals(0, registry.size());
        assertNull(b.get("y"));
    }

    @Test
    void undefineLeavesANameThatWasReusedSince() {
        StatementRegistry registry = new StatementRegistry();
        ClientStatements a = new ClientStatements(registry);
        PreparedStatement first = a.define("x", rest("select 1"), 0);
        a.close("x");
        PreparedStatement second = a.define("x", rest("select 2"), 0);
        a.undefine("x", first);
        assertSame(second, a.get("x"));
        a.undefine("x", second);
        assertNull(a.get("x"));
        assertEquals(0, registry.size());
    }

    @Test
    void backendStatementsEvictTheLeastRecentlyUsed() {
        BackendStatements b = new BackendStatements();
        assertEquals(List.of(), b.add("a", 2, 1));
        assertEquals(List.of(), b.add("b", 2, 2));
        assertTrue(b.use("a"));
        assertEquals(List.of("b"), b.add("c", 2, 3));
        assertFalse(b.use("b"));
        b.doubt("b", 4);
        assertEquals(3, b.size());
        assertFalse(b.use("b"), "in doubt: not trusted");
        assertTrue(b.mayHold("b"), "in doubt: closed before it is parsed again");
        b.clearBefore(3);
        assertFalse(b.use("a"));
        assertTrue(b.use("c"), "sent after the DEALLOCATE ALL");
        b.clear();
        assertEquals(0, b.size());
    }

    @Test
    void aSurplusFromInsideATransactionIsEvictedAtTheNextAdd() {
        BackendStatements b = new BackendStatements();
        b.add("a", Integer.MAX_VALUE, 1);
        b.add("b", Integer.MAX_VALUE, 2);
        b.add("c", Integer.MAX_VALUE, 3);
        assertEquals(List.of("a", "b"), b.add("d", 2, 4));
        assertEquals(2, b.size());
    }

    @Test
    void deallocateAllForgetsOnlyNamesDefinedBeforeIt() {
        ClientStatements a = new ClientStatements(new StatementRegistry());
        a.define("old", rest("select 1"), 10);
        a.define("new", rest("select 2"), 30);
        a.clearBefore(20);
        assertNull(a.get("old"));
        assertNotNull(a.get("new"));
    }
}
