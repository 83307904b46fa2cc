package io.pgproxy.session;

import java.util.concurrent.atomic.LongAdder;

/** Per-pool figures of the prepared-statement cache, for the stats log and tests. */
public final class StatementCounters {
    private final LongAdder prepares = new LongAdder();
    private final LongAdder hits = new LongAdder();
    private final LongAdder evictions = new LongAdder();

    /** Parse messages sent to backends for named statements (the client's own or injected). */
    public long prepares() {
        return prepares.sum();
    }

    /** Parse, Bind or Describe of a statement the backend already had prepared. */
    public long hits() {
        return hits.sum();
    }

    /** Statements closed on a backend to keep it within its limit. */
    public long evictions() {
        return evictions.sum();
    }

    public void prepared() {
        prepares.increment();
    }

    public void hit() {
        hits.increment();
    }

    public void evicted() {
        evictions.increment();
    }

    @Override
    public String toString() {
        return "prepares=" + prepares() + " hits=" + hits() + " evictions=" + evictions();
    }
}
