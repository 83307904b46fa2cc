package io.pgproxy.pool;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyHistogramTest {
    private static final int BUCKETS = LatencyHistogram.BOUNDS_MICROS.length + 1;

    @Test
    void boundsRiseFrom100MicrosecondsTo60Seconds() {
        long[] b = LatencyHistogram.boundsMicros();
        assertEquals(100, b[0]);
        assertEquals(60_000_000, b[b.length - 1]);
        for (int i = 1; i < b.length; i++) {
            assertTrue(b[i] > b[i - 1], "strictly increasing at " + i);
        }
    }

    @Test
    void aValueOnABoundCountsInThatBucketAsPrometheusLeDoes() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(100);
        h.record(101);
        h.record(250);
        long[] expected = new long[BUCKETS];
        expected[0] = 1;
        expected[1] = 2;
        assertArrayEquals(expected, h.counts());
        assertEquals(451, h.sumMicros());
        assertEquals(3, h.count());
    }

    @Test
    void zeroNegativeAndHugeValuesLandInTheEndBuckets() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(0);
        h.record(-5);
        h.record(60_000_001);
        h.record(Long.MAX_VALUE / 2);
        long[] c = h.counts();
        assertEquals(2, c[0], "zero and a clock step count as the fastest");
        assertEquals(2, c[BUCKETS - 1], "above the last bound: the overflow bucket");
        assertEquals(4, h.count());
    }

    @Test
    void concurrentRecordsAreAllCounted() {
        LatencyHistogram h = new LatencyHistogram();
        int threads = 8;
        int each = 10_000;
        try (ExecutorService ex = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                ex.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        h.record(i * 1_000L);
                    }
                });
            }
        }
        assertEquals((long) threads * each, h.count());
        long perThread = 0;
        for (int i = 0; i < each; i++) {
            perThread += i * 1_000L;
        }
        assertEquals(threads * perThread, h.sumMicros());
    }

    @Test
    void poolStatsRecordDurationsInTheirHistograms() {
        PoolStats s = new PoolStats();
        s.waited(50);
        s.transaction(3_000);
        s.query(700);
        s.query(700);
        assertEquals(1, s.waitTimes().counts()[0]);
        assertEquals(1, s.transactionTimes().counts()[5], "3 ms: the 5 ms bucket");
        assertEquals(2, s.queryTimes().counts()[3], "700 us: the 1 ms bucket");
        assertEquals(s.queryMicros(), s.queryTimes().sumMicros());
    }
}
