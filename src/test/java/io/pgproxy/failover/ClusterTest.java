package io.pgproxy.failover;

import io.pgproxy.backend.BackendException;
import io.pgproxy.config.HostAddress;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cluster's choice of primary from check results: hysteresis, following a promotion, suspects. */
class ClusterTest {
    private static final HostAddress A = new HostAddress("pg-a", 5432);
    private static final HostAddress B = new HostAddress("pg-b", 5432);
    private static final int FALL = 3;
    private static final int RISE = 2;
    private static final CheckResult PRIMARY = new CheckResult.Answered(false, 0);
    private static final CheckResult STANDBY = new CheckResult.Answered(true, 0);
    private static final CheckResult FAILED = new CheckResult.Failed("connection refused");

    private final List<String> changes = new ArrayList<>();
    private final Cluster cluster = new Cluster("app", List.of(A, B), () -> Duration.ofMillis(50),
            (c, from, to, planned) -> changes.add(from + " -> " + to + (planned ? " (planned)" : "")));

    private void round(CheckResult a, CheckResult b) {
        cluster.record(A, a, FALL, RISE);
        cluster.record(B, b, FALL, RISE);
        cluster.evaluate();
    }

    @Test
    void thePrimaryIsTheHostThatIsNotInRecovery() throws Exception {
        assertNull(cluster.currentPrimary(), "unknown before the first round");
        round(STANDBY, PRIMARY);
        assertEquals(B, cluster.primary());
        assertEquals(List.of("null -> " + B), changes);
    }

    @Test
    void aPromotionSeenByTheChecksDuringASwitchoverIsAPlannedChange() {
        round(PRIMARY, STANDBY);
        cluster.switching(true);
        // The checks see the promotion before the switchover makes its own choice.
        round(FAILED, PRIMARY);
        round(FAILED, PRIMARY);
        round(FAILED, PRIMARY);
        cluster.choose(B);
        cluster.switching(false);
        assertEquals(List.of("null -> " + A, A + " -> " + B + " (planned)"), changes);
    }

    @Test
    void aServerThatRefusesWritesIsNoPrimary() {
        CheckResult readOnly = new CheckResult.Answered(false, 0, true);
        round(readOnly, STANDBY);
        assertNull(cluster.currentPrimary(), "out of recovery but read-only: libpq's read-write check refuses it");
        assertEquals(HostRole.READ_ONLY, cluster.health(A).role());
        round(readOnly, PRIMARY);
        assertEquals(B, cluster.currentPrimary(), "the promoted standby, not the old primary made read-only");
    }

    @Test
    void aPrimaryMissingFewerChecksThanFallCountStaysPrimary() {
        round(PRIMARY, STANDBY);
        for (int i = 0; i < FALL - 1; i++) {
            round(FAILED, STANDBY);
            assertEquals(A, cluster.currentPrimary(), "after " + (i + 1) + " failed check(s)");
        }
        round(PRIMARY, STANDBY);
        assertEquals(A, cluster.currentPrimary());
        assertEquals(HostState.UP, cluster.health(A).state());
        assertEquals(List.of("null -> " + A), changes, "no failover for a blip");
    }

    @Test
    void aPrimaryDownForFallCountChecksIsDroppedAndAPromotedStandbyFollowed() {
        round(PRIMARY, STANDBY);
        for (int i = 0; i < FALL; i++) {
            round(FAILED, STANDBY);
        }
        assertEquals(HostState.DOWN, cluster.health(A).state());
        assertNull(cluster.currentPrimary(), "a standby is never chosen as the primary");
        round(FAILED, PRIMARY);
        assertEquals(B, cluster.currentPrimary());
        assertEquals(List.of("null -> " + A, A + " -> null", "null -> " + B), changes);
    }

    @Test
    void aDownHostNeedsRiseCountGoodChecksToBeUpAgain() {
        round(PRIMARY, PRIMARY);
        for (int i = 0; i < FALL; i++) {
            round(STANDBY, FAILED);
        }
        assertEquals(HostState.DOWN, cluster.health(B).state());
        round(STANDBY, STANDBY);
        assertEquals(HostState.DOWN, cluster.health(B).state(), "one good check is not enough");
        round(STANDBY, STANDBY);
        assertEquals(HostState.UP, cluster.health(B).state());
    }

    @Test
    void theCurrentPrimaryIsKeptWhileAnotherAlsoClaimsToBeOne() {
        round(STANDBY, PRIMARY);
        round(PRIMARY, PRIMARY);
        assertEquals(B, cluster.currentPrimary(), "an old primary that comes back does not take over");
    }

    @Test
    void aFailedConnectionMakesThePrimarySuspectUntilItsNextGoodCheck() {
        round(PRIMARY, STANDBY);
        assertTrue(cluster.connectFailed(A));
        assertNull(cluster.currentPrimary(), "clients wait for a check rather than retry a dead server");
        round(PRIMARY, STANDBY);
        assertEquals(A, cluster.currentPrimary());
    }

    @Test
    void withNoPrimaryAClientWaitsItsBoundThenGets08001NamingEachHost() {
        round(FAILED, STANDBY);
        BackendException e = assertThrows(BackendException.class, cluster::primary);
        assertEquals("08001", e.error().sqlState());
        assertTrue(e.error().message().contains(A + " unknown unknown: connection refused"), e.error().message());
        assertTrue(e.error().message().contains(B + " up standby"), e.error().message());
    }

    @Test
    void aSingleHostIsThePrimaryAndNeverChecked() throws Exception {
        Cluster single = new Cluster("one", List.of(A), () -> Duration.ZERO, (c, from, to, planned) -> { });
        assertFalse(single.isChecked());
        assertEquals(A, single.primary());
        assertFalse(single.connectFailed(A), "a connection failure is the client's error, no retry");
    }
}
