package io.pgproxy.session;

import io.pgproxy.protocol.message.TransactionStatus;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.pgproxy.protocol.message.TransactionStatus.FAILED;
import static io.pgproxy.protocol.message.TransactionStatus.IDLE;
import static io.pgproxy.protocol.message.TransactionStatus.IN_TRANSACTION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tracker's decisions from literal message sequences, as a backend would send them. */
class SessionTrackerTest {
    private static final Map<String, String> REPORTED = Map.of("application_name", "", "DateStyle", "ISO, MDY",
            "TimeZone", "UTC", "client_encoding", "UTF8", "is_superuser", "off", "session_authorization", "app");
    private static final SetStatement.Assignment WORK_MEM = new SetStatement.Assignment("work_mem", "7MB");

    private static SessionTracker transactionPooling() {
        return new SessionTracker(new SessionParameters(Map.of()), true, false);
    }

    private static BackendSession backend() {
        return new BackendSession(new java.util.concurrent.ConcurrentHashMap<>(REPORTED), REPORTED);
    }

    @Test
    void listenPinsOnceAndDiscardAllUnpins() {
        SessionTracker t = transactionPooling();
        SessionTracker.Decision d = t.onCommandComplete("LISTEN");
        assertEquals(Set.of(PinReason.LISTEN), d.pins());
        assertTrue(d.pinnedNow());
        assertEquals(PinReason.LISTEN, t.pinned());
        assertSame(SessionTracker.Decision.NONE, t.onCommandComplete("LISTEN"), "a reason is counted once per session");
        assertFalse(t.unpinIfFree(IDLE), "still listening");

        SessionTracker.Decision discard = t.onCommandComplete("DISCARD ALL");
        assertTrue(discard.forgetBackend());
        assertTrue(discard.dropStatements());
        assertFalse(t.unpinIfFree(IN_TRANSACTION), "not inside a transaction");
        assertTrue(t.unpinIfFree(IDLE));
        assertNull(t.pinned());
    }

    @Test
    void aCommittedPlainSetFollowsTheClientAndIsAssumedOnItsBackend() {
        SessionTracker t = transactionPooling();
        BackendSession b = backend();
        assertSame(SessionTracker.Decision.NONE, t.sent(null, List.of(WORK_MEM), List.of()));
        assertSame(SessionTracker.Decision.NONE, t.onCommandComplete("SET"));
        assertSame(SessionTracker.Decision.NONE, t.onReadyForQuery(IDLE, true, b));
        assertNull(t.pinned(), "a plain SET is replayed, not pinned");

        // Another backend, fresh from login: the sync sets work_mem there.
        SessionTracker.Sync sync = t.syncFor(backend());
        assertNotNull(sync.batch());
        assertEquals(Map.of("work_mem", "7MB"), sync.diff());
        // Its own backend already carries it.
        t.left(b);
        assertNull(t.syncFor(b), "nothing to do on the backend it left");
    }

    @Test
    void aSetRolledBackDoesNotFollowTheClient() {
        SessionTracker t = transactionPooling();
        t.sent(null, List.of(WORK_MEM), List.of());
        t.onCommandComplete("BEGIN");
        t.onCommandComplete("SET");
        t.onReadyForQuery(IN_TRANSACTION, true, backend());
        t.onCommandComplete("ROLLBACK");
        t.onReadyForQuery(IDLE, true, backend());
        SessionTracker.Sync sync = t.syncFor(backend());
        assertTrue(sync.diff().isEmpty(), "nothing to set: " + sync.diff());
    }

    @Test
    void anUnrecognisedResetPinsAndForgetsTheBackendsState() {
        SessionTracker t = transactionPooling();
        SessionTracker.Decision d = t.onCommandComplete("RESET");
        assertEquals(Set.of(PinReason.UNTRACKED_SET), d.pins());
        assertTrue(d.forgetBackend());
    }

    @Test
    void anUntrackedSetWhoseReportDoesNotAnswerItPinsAtTheSettle() {
        SessionTracker t = transactionPooling();
        t.sent(null, List.of(new SetStatement.Unrecognised()), List.of());
        t.onCommandComplete("SET");
        SessionTracker.Decision d = t.onReadyForQuery(IDLE, true, backend());
        assertEquals(Set.of(PinReason.UNTRACKED_SET), d.pins());
        assertTrue(d.pinnedNow());
    }

    @Test
    void statementPoolingRefusesATransactionBlock() {
        SessionTracker t = new SessionTracker(new SessionParameters(Map.of()), true, true);
        assertFalse(t.onReadyForQuery(IDLE, true, backend()).refuseBlock());
        assertTrue(t.onReadyForQuery(IN_TRANSACTION, true, backend()).refuseBlock());
        assertTrue(t.onReadyForQuery(FAILED, true, backend()).refuseBlock());
    }

    @Test
    void sessionPoolingPinsNothing() {
        SessionTracker t = new SessionTracker(new SessionParameters(Map.of()), false, false);
        assertSame(SessionTracker.Decision.NONE, t.onCommandComplete("LISTEN"));
        assertNull(t.pinned());
    }

    @Test
    void aBackendCarryingAnotherClientsSessionIsResetFirst() {
        SessionTracker a = transactionPooling();
        SessionTracker b = transactionPooling();
        BackendSession backend = backend();
        a.left(backend);
        SessionTracker.Sync sync = b.syncFor(backend);
        assertTrue(sync.reset(), "another client's session is never inherited");
        assertNotNull(sync.batch());
        b.synced(backend, sync);
        assertNull(b.syncFor(backend), "brought to b's session");
        assertEquals(BackendSession.Carrier.CLIENT, backend.carrier());
    }

    @Test
    void theReportOfATrackedSetIsNotTakenForAnUntrackedOne() {
        SessionTracker t = transactionPooling();
        t.sent(null, List.of(new SetStatement.Assignment("application_name", "x")), List.of());
        t.onCommandComplete("SET");
        t.onParameterStatus("application_name", "x");
        assertSame(SessionTracker.Decision.NONE, t.onReadyForQuery(TransactionStatus.IDLE, true, backend()));
        assertEquals("x", t.syncFor(backend()).diff().get("application_name"), "and the SET follows the client");
    }

    @Test
    void aResetSyncIsBuiltOnceForTheSameStateAndLoginValues() {
        SessionTracker a = transactionPooling();
        SessionTracker b = transactionPooling();
        BackendSession one = backend();
        BackendSession two = backend();
        a.left(one);
        a.left(two);
        SessionTracker.Sync first = b.syncFor(one);
        assertSame(first, b.syncFor(two), "same state, same login values: the same batch");
        assertEquals(first.messages(), first.messages(), "each send gets the batch from its start");
    }

    @Test
    void trackedIsolationCarriesOnlyTheDiffToABackendAnotherClientLeft() {
        SessionTracker a = new SessionTracker(new SessionParameters(Map.of()), true, false, () -> false);
        SessionTracker b = new SessionTracker(new SessionParameters(Map.of()), true, false, () -> false);
        BackendSession backend = backend();
        a.sent(null, List.of(WORK_MEM), List.of());
        a.onCommandComplete("SET");
        a.onReadyForQuery(IDLE, true, backend);
        a.left(backend);
        SessionTracker.Sync sync = b.syncFor(backend);
        assertFalse(sync.reset(), "tracked: no reset statement");
        assertEquals(java.util.Collections.singletonMap("work_mem", null), sync.diff(), "a's SET goes back to its default");
        backend.reset(false);
        assertTrue(b.syncFor(backend).reset(), "a backend nobody can vouch for is reset whatever the setting");
    }
}
