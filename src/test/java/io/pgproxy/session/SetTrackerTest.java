package io.pgproxy.session;

import io.pgproxy.protocol.message.TransactionStatus;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.pgproxy.protocol.message.TransactionStatus.FAILED;
import static io.pgproxy.protocol.message.TransactionStatus.IDLE;
import static io.pgproxy.protocol.message.TransactionStatus.IN_TRANSACTION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replies a backend sends for each case, fed in the order PostgreSQL sends them. */
class SetTrackerTest {
    private static final SetStatement.Assignment WORK_MEM = new SetStatement.Assignment("work_mem", "7MB");

    private static SetTracker.Outcome ready(SetTracker t, TransactionStatus status) {
        return t.onReadyForQuery(status, true);
    }

    @Test
    void anAutocommitSetLastsAtOnce() {
        SetTracker t = new SetTracker();
        t.sent(WORK_MEM);
        assertEquals(WORK_MEM, t.onSet());
        assertEquals(List.of(new SetTracker.Set(WORK_MEM)), ready(t, IDLE).confirmed());
    }

    @Test
    void aSetInABlockLastsOnlyWhenTheBlockCommits() {
        SetTracker t = new SetTracker();
        assertTrue(ready(t, IN_TRANSACTION).confirmed().isEmpty()); // BEGIN
        t.sent(WORK_MEM);
        t.onSet();
        assertTrue(ready(t, IN_TRANSACTION).confirmed().isEmpty());
        assertEquals(1, ready(t, IDLE).confirmed().size()); // COMMIT

        ready(t, IN_TRANSACTION);
        t.sent(WORK_MEM);
        t.onSet();
        ready(t, IN_TRANSACTION);
        t.onRollback();
        assertTrue(ready(t, IDLE).confirmed().isEmpty(), "ROLLBACK undoes it");
    }

    @Test
    void aFailedBlockUndoesItsSetsEvenWhenCommitted() {
        SetTracker t = new SetTracker();
        ready(t, IN_TRANSACTION);
        t.sent(WORK_MEM);
        t.onSet();
        ready(t, IN_TRANSACTION);
        t.onError();
        ready(t, FAILED);
        t.onRollback(); // COMMIT of a failed block answers ROLLBACK
        SetTracker.Outcome o = ready(t, IDLE);
        assertTrue(o.confirmed().isEmpty());
        assertFalse(o.pin());
    }

    @Test
    void anErrorLaterInTheSameImplicitTransactionUndoesIt() {
        // Parse/Bind/Execute of the SET, then of a failing statement, then one Sync.
        SetTracker t = new SetTracker();
        t.sent(WORK_MEM);
        t.onSet();
        t.onError();
        assertTrue(ready(t, IDLE).confirmed().isEmpty());
    }

    @Test
    void rollbackToASavepointAfterASetPins() {
        SetTracker t = new SetTracker();
        ready(t, IN_TRANSACTION);
        t.sent(WORK_MEM);
        t.onSet();
        ready(t, IN_TRANSACTION);
        t.onRollback();
        assertTrue(ready(t, IN_TRANSACTION).pin());
    }

    @Test
    void setLocalAndUnrecognisedSetsAreTold() {
        SetTracker t = new SetTracker();
        t.sent(new SetStatement.Local());
        t.sent(new SetStatement.Unrecognised());
        assertInstanceOf(SetStatement.Local.class, t.onSet());
        assertInstanceOf(SetStatement.Unrecognised.class, t.onSet());
        assertNull(t.onSet());
        assertTrue(ready(t, IDLE).confirmed().isEmpty());
    }

    @Test
    void aFailedSetWithMoreRepliesOwedPinsSinceLaterTagsMayPairWrongly() {
        SetTracker t = new SetTracker();
        t.sent(new SetStatement.Assignment("work_mem", "bad"));
        t.sent(new SetStatement.Local());
        t.onError();
        assertTrue(t.onReadyForQuery(IDLE, false).pin());
    }

    @Test
    void resetsAreConfirmedLikeSets() {
        SetTracker t = new SetTracker();
        SetStatement.Reset r = new SetStatement.Reset("work_mem");
        t.sent(r);
        assertEquals(r, t.onReset());
        assertEquals(List.of(new SetTracker.Reset(r)), ready(t, IDLE).confirmed());
        assertNull(t.onReset());
    }
}
