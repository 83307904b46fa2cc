package io.pgproxy.pool;

import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of durations in fixed buckets, recorded on the relay path by many client threads at
 * once: one {@link LongAdder} per bucket, so a record is a binary search over a small array and
 * one uncontended add, with no lock and no allocation. Read at scrape time as Prometheus classic
 * histogram buckets. Unlike the HdrHistogram in {@link Pool} (percentiles for the log, reset each
 * period), these only grow, as Prometheus expects of a histogram.
 */
public final class LatencyHistogram {
    /**
     * Upper bounds in microseconds, 1-2.5-5 per decade from 100 µs to 60 s: a local round trip
     * lands in the first buckets, a long report or a stuck wait in the last ones. 18 buckets plus
     * the overflow keep a scrape small however many pools there are.
     */
    static final long[] BOUNDS_MICROS = {
            100, 250, 500,
            1_000, 2_500, 5_000,
            10_000, 25_000, 50_000,
            100_000, 250_000, 500_000,
            1_000_000, 2_500_000, 5_000_000,
            10_000_000, 30_000_000, 60_000_000};

    /** One per bound, then one for everything above the last bound. */
    private final LongAdder[] buckets = new LongAdder[BOUNDS_MICROS.length + 1];
    private final LongAdder sumMicros = new LongAdder();

    public LatencyHistogram() {
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = new LongAdder();
        }
    }

    /** Counts one duration; a negative one (a clock step) counts as zero. */
    public void record(long micros) {
        long v = Math.max(0, micros);
        int i = Arrays.binarySearch(BOUNDS_MICROS, v);
        // Bounds are inclusive (Prometheus "le"): an exact hit belongs to that bucket.
        buckets[i >= 0 ? i : -i - 1].increment();
        sumMicros.add(v);
    }

    /** The upper bounds in microseconds, without the overflow bucket. */
    public static long[] boundsMicros() {
        return BOUNDS_MICROS.clone();
    }

    /**
     * Counts per bucket, not cumulative: one per bound, the last for values above every bound.
     * Read bucket by bucket while others record, so the counts may differ from {@link #count()}
     * by the records in flight; each bucket is right on its own.
     */
    public long[] counts() {
        long[] c = new long[buckets.length];
        for (int i = 0; i < c.length; i++) {
            c[i] = buckets[i].sum();
        }
        return c;
    }

    public long count() {
        long n = 0;
        for (LongAdder b : buckets) {
            n += b.sum();
        }
        return n;
    }

    public long sumMicros() {
        return sumMicros.sum();
    }
}
