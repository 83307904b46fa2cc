package io.pgproxy.session;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PinDetectorTest {
    @Test
    void aReasonIsNewOnlyOnceUntilReleased() {
        PinDetector pins = new PinDetector();
        assertTrue(pins.holdsNothing());
        assertTrue(pins.hold(PinReason.LISTEN));
        assertFalse(pins.hold(PinReason.LISTEN));
        assertFalse(pins.holdsNothing());
        pins.onCommandComplete("DISCARD ALL");
        assertTrue(pins.holdsNothing());
        assertTrue(pins.hold(PinReason.LISTEN), "held again after the release");
    }

    @Test
    void discardAllReleasesEveryReason() {
        PinDetector pins = new PinDetector();
        for (PinReason r : PinReason.values()) {
            pins.hold(r);
        }
        pins.onCommandComplete("DISCARD ALL");
        assertTrue(pins.holdsNothing());
    }

    @Test
    void deallocateAllReleasesOnlySqlPrepare() {
        PinDetector pins = new PinDetector();
        pins.hold(PinReason.SQL_PREPARE);
        pins.onCommandComplete("DEALLOCATE ALL");
        assertTrue(pins.holdsNothing());
        pins.hold(PinReason.SQL_PREPARE);
        pins.hold(PinReason.TEMPORARY_TABLE);
        pins.onCommandComplete("DEALLOCATE ALL");
        assertFalse(pins.holdsNothing());
    }

    @Test
    void signalsARollbackCouldUndoKeepThePin() {
        PinDetector pins = new PinDetector();
        pins.hold(PinReason.SQL_PREPARE);
        pins.hold(PinReason.LISTEN);
        pins.hold(PinReason.TEMPORARY_TABLE);
        for (String tag : new String[] {"DEALLOCATE", "UNLISTEN", "DISCARD TEMP", "CLOSE CURSOR ALL", "RESET"}) {
            assertNull(pins.onCommandComplete(tag));
        }
        assertFalse(pins.holdsNothing());
    }

    @Test
    void tagsThatCreateStateStillAskForAPin() {
        PinDetector pins = new PinDetector();
        assertEquals(PinReason.LISTEN, pins.onCommandComplete("LISTEN"));
        assertEquals(PinReason.SQL_PREPARE, pins.onCommandComplete("PREPARE"));
    }
}
