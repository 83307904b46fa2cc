package io.pgproxy.pool;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/** PauseGate: a database's gate closes with its own pause or the proxy-wide one; a resume wakes its waiters. */
class PauseGateTest {
    private static long deadlineIn(Duration d) {
        return System.nanoTime() + d.toNanos();
    }

    @Test
    void aChildIsClosedByItsParentAndByItself() {
        PauseGate root = PauseGate.root();
        PauseGate db = root.child();
        PauseGate other = root.child();
        assertFalse(db.isPaused());
        assertTrue(db.pause());
        assertFalse(db.pause(), "pausing twice reports it");
        assertTrue(db.isPaused());
        assertFalse(other.isPaused());
        assertTrue(root.pause());
        assertTrue(other.isPaused());
        assertFalse(other.isPausedItself());
        assertTrue(root.resume());
        assertFalse(other.isPaused());
        assertTrue(db.isPaused(), "its own pause outlives the proxy-wide resume");
        assertTrue(db.resume());
        assertFalse(db.resume(), "resuming an open gate reports it");
    }

    @Test
    void aWaitEndsAtItsDeadlineWhileClosed() throws Exception {
        PauseGate gate = PauseGate.root().child();
        assertTrue(gate.awaitOpen(deadlineIn(Duration.ZERO)), "an open gate lets through at once");
        gate.pause();
        assertFalse(gate.awaitOpen(deadlineIn(Duration.ofMillis(50))));
    }

    @Test
    void theParentsResumeWakesWaitersAtTheChild() throws Exception {
        PauseGate root = PauseGate.root();
        PauseGate db = root.child();
        root.pause();
        CompletableFuture<Boolean> waiter = new CompletableFuture<>();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                waiter.complete(db.awaitOpen(deadlineIn(Duration.ofMinutes(1))));
            } catch (InterruptedException e) {
                waiter.completeExceptionally(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> t.getState() == Thread.State.TIMED_WAITING);
        assertFalse(waiter.isDone());
        root.resume();
        assertTrue(waiter.get(10, TimeUnit.SECONDS));
    }

    @Test
    void awaitUntilReturnsWhenDoneAndGivesUpWhenAsked() throws Exception {
        PauseGate gate = PauseGate.root();
        gate.pause();
        AtomicBoolean drained = new AtomicBoolean();
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return gate.awaitUntil(drained::get, () -> false);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertFalse(waiter.isDone());
        drained.set(true);
        gate.released();
        assertTrue(waiter.get(10, TimeUnit.SECONDS));
        assertFalse(gate.awaitUntil(() -> false, () -> true), "gives up when the asker is gone");
    }
}
