package io.pgproxy.metrics;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Bounds label cardinality: the first {@code max} (database, user) pairs seen get labels of their
 * own, every later one is reported as {@link #OTHER}. A pair keeps its slot for the server's life,
 * so a pool's series never jump between label sets as pools come and go (a retired pool and its
 * replacement after a reload share their pair, and so their series). Time series cost the
 * monitoring system memory per label set; a platform with thousands of tenants must not make
 * every scrape grow with them.
 */
final class PoolLabels {
    /** A pool's label values. */
    record Key(String database, String user) {
    }

    /** Where pools past the cap are added up. */
    static final Key OTHER = new Key("_other_", "_other_");

    private final int max;
    private final ConcurrentHashMap<Key, Key> labelled = new ConcurrentHashMap<>();

    PoolLabels(int max) {
        this.max = max;
    }

    /** The labels to report the pool of {@code user} on {@code database} under. */
    Key of(String database, String user) {
        Key k = new Key(database, user);
        if (labelled.containsKey(k)) {
            return k;
        }
        // Called by scrapes, which the HTTP server may run concurrently: the check and the put
        // must be one step, or two scrapes could each take the last slot.
        synchronized (labelled) {
            if (labelled.size() < max) {
                labelled.putIfAbsent(k, k);
                return k;
            }
            return labelled.containsKey(k) ? k : OTHER;
        }
    }
}
