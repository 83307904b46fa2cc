package io.pgproxy.client;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The life of a transaction block lost with its backend, until it is failed on the next one. */
class LostBlockTest {
    @Test
    void aBlockLostWhileIdleIsToldOnceThenFailedOnTheNextLease() {
        LostBlock b = new LostBlock();
        b.lost(true, false);
        assertTrue(b.failedForClient());
        assertFalse(b.failOnLease(0), "not before the client was told");
        assertTrue(b.tell());
        assertFalse(b.tell(), "told once");
        assertTrue(b.failedForClient());
        assertTrue(b.failOnLease(0));
        assertTrue(b.failing());
        assertFalse(b.failedForClient(), "from here the server answers for the block");
        assertTrue(b.blockAnswered());
        assertFalse(b.failing());
        assertFalse(b.blockAnswered(), "nothing hidden is left");
    }

    @Test
    void aBlockLostUnderARequestWasToldByItsError() {
        LostBlock b = new LostBlock();
        b.lost(true, true);
        assertFalse(b.tell());
        assertTrue(b.failOnLease(1));
        assertFalse(b.blockAnswered(), "the session batch sent with it is answered first");
        assertTrue(b.blockAnswered());
    }

    @Test
    void aLossOutsideABlockLeavesNothingToFail() {
        LostBlock b = new LostBlock();
        b.lost(true, true);
        b.lost(false, true);
        assertFalse(b.failedForClient());
        assertFalse(b.failOnLease(0));
    }
}
