package io.pgproxy.backend;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reply queue's matching, driven by backend tags as the reader sees them. */
class ReplyQueueTest {
    private static final byte[] PARSE_COMPLETE = {'1', 0, 0, 0, 4};

    private final ReplyQueue q = new ReplyQueue(new io.pgproxy.session.ReplyClock());
    private final AtomicInteger skipped = new AtomicInteger();
    private final ByteArrayOutputStream emitted = new ByteArrayOutputStream();
    private final ReplyQueue.Emitter emitter = b -> {
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        emitted.writeBytes(bytes);
    };

    /** What the reader does with each tag in turn: F(orward), D(rop), and E(mit) steps. */
    private String replay(String tags) {
        StringBuilder out = new StringBuilder();
        q.lock();
        try {
            for (char t : tags.toCharArray()) {
                int d;
                while ((d = q.onReply((byte) t)) == ReplyQueue.EMIT) {
                    out.append('+').append((char) q.takeSynthetic()[0]);
                }
                out.append(d == ReplyQueue.DROP ? "-" : "").append(t);
            }
            byte[] s;
            while ((s = q.takeSynthetic()) != null) {
                out.append('+').append((char) s[0]);
            }
        } finally {
            q.unlock();
        }
        return out.toString();
    }

    @Test
    void anInjectedParseIsHiddenAndTheRestRelayed() {
        q.expectHidden(ReplyQueue.PARSE, null);
        q.expect(ReplyQueue.BIND);
        q.expect(ReplyQueue.DESCRIBE);
        q.expect(ReplyQueue.EXECUTE);
        q.expect(ReplyQueue.SYNC);
        assertEquals("-12TDDCZ", replay("12TDDCZ"));
        assertTrue(q.isEmpty());
    }

    @Test
    void aSyntheticReplyWithNothingOwedGoesOutAtOnce() throws Exception {
        q.synthesize(PARSE_COMPLETE, skipped::incrementAndGet, emitter);
        assertEquals(5, emitted.size());
        assertTrue(q.isEmpty());
    }

    @Test
    void aSyntheticReplyWaitsForTheRepliesBeforeIt() throws Exception {
        q.expect(ReplyQueue.BIND);
        q.expect(ReplyQueue.EXECUTE);
        q.synthesize(PARSE_COMPLETE, skipped::incrementAndGet, emitter);
        q.expect(ReplyQueue.BIND);
        q.expect(ReplyQueue.SYNC);
        assertEquals(0, emitted.size());
        assertEquals("2DC+12Z", replay("2DC2Z"));
    }

    @Test
    void anErrorSkipsEverythingUpToSyncAndUndoesWhatWasAssumed() throws Exception {
        AtomicInteger undone = new AtomicInteger();
        q.expect(ReplyQueue.BIND);
        q.expect(ReplyQueue.EXECUTE);
        q.expect(ReplyQueue.PARSE, undone::incrementAndGet);
        q.synthesize(PARSE_COMPLETE, skipped::incrementAndGet, emitter);
        q.expectHidden(ReplyQueue.PARSE, undone::incrementAndGet);
        q.expect(ReplyQueue.BIND);
        q.expect(ReplyQueue.SYNC);
        assertEquals("2EZ", replay("2EZ"));
        assertEquals(2, undone.get());
        assertEquals(0, emitted.size(), "the synthetic reply stood for a skipped message");
        assertEquals(1, skipped.get());
        assertTrue(q.isEmpty());
    }

    @Test
    void messagesSentAfterAnErrorAndBeforeSyncAreSkippedAsTheyArrive() throws Exception {
        AtomicInteger undone = new AtomicInteger();
        q.expect(ReplyQueue.BIND);
        assertEquals("E", replay("E"));
        q.expect(ReplyQueue.PARSE, undone::incrementAndGet);
        q.synthesize(PARSE_COMPLETE, skipped::incrementAndGet, emitter);
        assertEquals(1, undone.get());
        assertEquals(0, emitted.size());
        q.expect(ReplyQueue.SYNC);
        q.synthesize(PARSE_COMPLETE, skipped::incrementAndGet, emitter);
        assertEquals("Z+1", replay("Z"));
    }

    @Test
    void errorsInsideSimpleQueriesAndAtSyncDoNotSkip() {
        q.expect(ReplyQueue.SIMPLE);
        q.expect(ReplyQueue.BIND);
        q.expect(ReplyQueue.SYNC);
        assertEquals("TDCEZ2EZ", replay("TDCEZ2EZ"));
        assertTrue(q.isEmpty());
    }

    @Test
    void asynchronousMessagesMatchNothing() {
        q.expect(ReplyQueue.PARSE);
        q.expect(ReplyQueue.SYNC);
        assertEquals("NSA1NZ", replay("NSA1NZ"));
        assertFalse(q.lost());
    }

    @Test
    void aCompletedMessageReportsItsOutcome() {
        AtomicInteger done = new AtomicInteger();
        q.expectHidden(ReplyQueue.PARSE, new ReplyQueue.Outcome() {
            @Override
            public void done() {
                done.incrementAndGet();
            }

            @Override
            public void notDone() {
                done.addAndGet(100);
            }
        });
        q.expect(ReplyQueue.SYNC);
        assertEquals("-1Z", replay("1Z"));
        assertEquals(1, done.get());
    }

    @Test
    void aPossibleDeallocationIsAwaitedUntilItsQueryIsAnswered() throws Exception {
        q.expectAll(new byte[]{ReplyQueue.SIMPLE, ReplyQueue.BIND}, 2, 0);
        assertTrue(q.deallocationUnanswered());
        assertTrue(q.deallocationPending());
        assertFalse(q.awaitDeallocation(java.time.Duration.ofMillis(1)), "not answered yet");
        assertEquals("CZ", replay("CZ"));
        assertFalse(q.deallocationUnanswered(), "its ReadyForQuery came; the Bind after it does not matter");
        assertTrue(q.awaitDeallocation(java.time.Duration.ofMillis(1)));
        assertTrue(q.deallocationPending(), "statements stay in doubt until everything sent is answered");
        replay("2");
        assertFalse(q.deallocationPending());
    }

    @Test
    void aReplyThatMatchesNothingMarksTheQueueLost() {
        q.expect(ReplyQueue.PARSE);
        replay("2");
        assertTrue(q.lost());
    }

    @Test
    void portalSuspendedAndEmptyQueryCompleteAnExecute() {
        List<Byte> kinds = new ArrayList<>(List.of(ReplyQueue.EXECUTE, ReplyQueue.EXECUTE, ReplyQueue.SYNC));
        byte[] k = new byte[kinds.size()];
        for (int i = 0; i < k.length; i++) {
            k[i] = kinds.get(i);
        }
        q.expectAll(k, k.length, -1);
        assertEquals("DsIZ", replay("DsIZ"));
        assertTrue(q.isEmpty());
        assertNull(q.takeSynthetic());
    }
}
