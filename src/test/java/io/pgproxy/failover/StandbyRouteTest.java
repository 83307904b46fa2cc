package io.pgproxy.failover;

import io.pgproxy.backend.BackendException;
import io.pgproxy.config.FailoverConfig;
import io.pgproxy.config.HostAddress;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Read-only routing: least connections over standbys in reach, lag exclusion, the primary as fallback. */
class StandbyRouteTest {
    private static final HostAddress P = new HostAddress("pg-p", 5432);
    private static final HostAddress S1 = new HostAddress("pg-s1", 5432);
    private static final HostAddress S2 = new HostAddress("pg-s2", 5432);
    private static final long MAX_LAG = 1000;
    private static final FailoverConfig CONFIG = new FailoverConfig(Duration.ofSeconds(1), Duration.ofSeconds(1), 3, 2,
            Duration.ofMillis(50), Duration.ofSeconds(1), null, null, MAX_LAG, 1 << 16, 100, Duration.ofSeconds(1));

    private final Cluster cluster = new Cluster("app", List.of(P, S1, S2), () -> Duration.ofMillis(50), (c, f, t, planned) -> { });

    private void round(long primaryAt, long s1At, long s2At) {
        cluster.record(P, new CheckResult.Answered(false, primaryAt), 3, 2);
        cluster.record(S1, new CheckResult.Answered(true, s1At), 3, 2);
        cluster.record(S2, new CheckResult.Answered(true, s2At), 3, 2);
        cluster.evaluate();
    }

    @Test
    void newConnectionsGoToTheStandbyWithFewestOfThem() throws Exception {
        StandbyRoute route = new StandbyRoute(cluster, false, () -> CONFIG);
        round(5000, 5000, 5000);
        HostAddress first = route.primary();
        route.opened(first);
        HostAddress second = route.primary();
        assertTrue(List.of(S1, S2).contains(first));
        assertEquals(first.equals(S1) ? S2 : S1, second, "the other standby, with no connection yet");
        route.opened(second);
        route.closed(first);
        assertEquals(first, route.primary());
    }

    @Test
    void aStandbyTooFarBehindIsLeftOutAndItsIdleBackendsWithIt() throws Exception {
        StandbyRoute route = new StandbyRoute(cluster, false, () -> CONFIG);
        round(10_000, 10_000 - MAX_LAG - 1, 10_000 - MAX_LAG);
        assertEquals(S2, route.primary());
        assertFalse(route.serves(S1.host(), S1.port()));
        assertTrue(route.serves(S2.host(), S2.port()));
        round(20_000, 20_000, 20_000 - MAX_LAG - 1);
        assertEquals(S1, route.primary(), "caught up, it serves again");
    }

    @Test
    void withNoStandbyInReachPreferStandbyReadsFromThePrimaryAndStandbyWaits() {
        round(10_000, 0, 0);
        StandbyRoute prefer = new StandbyRoute(cluster, true, () -> CONFIG);
        assertEquals(P, prefer.choose());
        assertTrue(prefer.serves(P.host(), P.port()));
        StandbyRoute only = new StandbyRoute(cluster, false, () -> CONFIG);
        BackendException e = assertThrows(BackendException.class, only::primary);
        assertEquals("08001", e.error().sqlState());
        assertFalse(only.serves(P.host(), P.port()));
    }
}
