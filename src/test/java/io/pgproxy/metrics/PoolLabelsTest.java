package io.pgproxy.metrics;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PoolLabelsTest {
    @Test
    void poolsPastTheCapShareTheOtherLabels() {
        PoolLabels labels = new PoolLabels(2);
        assertEquals(new PoolLabels.Key("a", "u"), labels.of("a", "u"));
        assertEquals(new PoolLabels.Key("b", "u"), labels.of("b", "u"));
        assertEquals(PoolLabels.OTHER, labels.of("c", "u"));
        assertEquals(PoolLabels.OTHER, labels.of("a", "v"), "a different user is a different pool");
    }

    @Test
    void aLabelledPoolKeepsItsLabelsWhateverComesLater() {
        PoolLabels labels = new PoolLabels(1);
        labels.of("a", "u");
        for (int i = 0; i < 1000; i++) {
            labels.of("t" + i, "u");
        }
        assertEquals(new PoolLabels.Key("a", "u"), labels.of("a", "u"));
        assertEquals(PoolLabels.OTHER, labels.of("t0", "u"), "refused once, refused for good: its series stay put");
    }

    @Test
    void zeroLabelsEveryPoolAsOther() {
        assertEquals(PoolLabels.OTHER, new PoolLabels(0).of("a", "u"));
    }

    @Test
    void concurrentFirstSightsNeverExceedTheCap() throws Exception {
        PoolLabels labels = new PoolLabels(10);
        Thread[] threads = new Thread[8];
        java.util.Set<PoolLabels.Key> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        for (int t = 0; t < threads.length; t++) {
            int base = t * 100;
            threads[t] = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 100; i++) {
                    seen.add(labels.of("d" + (base + i), "u"));
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        seen.remove(PoolLabels.OTHER);
        assertEquals(10, seen.size());
    }
}
