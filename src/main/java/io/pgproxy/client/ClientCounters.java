package io.pgproxy.client;

import io.pgproxy.pool.RefusalReason;

import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the proxy itself told clients, for the whole running server: clients refused, by reason,
 * and ErrorResponses it sent of its own (not the backends' errors it relays), by SQLSTATE class.
 * Not per pool, because most of these happen before a client has one (max-clients, an unknown
 * database, a bad password). One instance per server, so two servers in one JVM never share
 * figures.
 */
public final class ClientCounters {
    /**
     * PostgreSQL defines about 40 SQLSTATE classes; a backend's error passed on as the proxy's own
     * (a failed backend login) could carry anything, so classes past this many are counted
     * together under {@link #OTHER_CLASS} to keep the metric's label values bounded.
     */
    static final int MAX_ERROR_CLASSES = 64;
    /** The class under which errors past {@link #MAX_ERROR_CLASSES}, or with a malformed SQLSTATE, are counted. */
    public static final String OTHER_CLASS = "other";

    private final EnumMap<RefusalReason, LongAdder> refusals = new EnumMap<>(RefusalReason.class);
    private final ConcurrentHashMap<String, LongAdder> errorsByClass = new ConcurrentHashMap<>();

    public ClientCounters() {
        for (RefusalReason r : RefusalReason.values()) {
            refusals.put(r, new LongAdder());
        }
    }

    /** A client was turned away for this reason. */
    public void refused(RefusalReason reason) {
        refusals.get(reason).increment();
    }

    /** The proxy sent a client an ErrorResponse of its own with this SQLSTATE. */
    public void errorSent(String sqlState) {
        String cls = sqlState != null && sqlState.length() == 5 && sqlState.chars().allMatch(ClientCounters::sqlStateChar)
                ? sqlState.substring(0, 2) : OTHER_CLASS;
        LongAdder n = errorsByClass.get(cls);
        if (n == null) {
            n = errorsByClass.size() < MAX_ERROR_CLASSES
                    ? errorsByClass.computeIfAbsent(cls, k -> new LongAdder())
                    : errorsByClass.computeIfAbsent(OTHER_CLASS, k -> new LongAdder());
        }
        n.increment();
    }

    private static boolean sqlStateChar(int c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
    }

    /** Clients refused, by reason; every reason present, 0 where none. */
    public Map<RefusalReason, Long> refusals() {
        Map<RefusalReason, Long> m = new EnumMap<>(RefusalReason.class);
        refusals.forEach((r, n) -> m.put(r, n.sum()));
        return m;
    }

    /** Errors the proxy sent itself, by SQLSTATE class (its first two characters), in class order. */
    public Map<String, Long> errorsByClass() {
        Map<String, Long> m = new TreeMap<>();
        errorsByClass.forEach((c, n) -> m.put(c, n.sum()));
        return m;
    }
}
