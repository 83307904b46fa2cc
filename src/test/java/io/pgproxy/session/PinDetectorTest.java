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

    @org.junit.jupiter.api.Test
    void sessionLevelRoleChangesAndSetConfigPin() {
        org.junit.jupiter.api.Assertions.assertEquals(PinReason.IDENTITY, PinDetector.peekStatement("SET ROLE app"));
        org.junit.jupiter.api.Assertions.assertEquals(PinReason.IDENTITY, PinDetector.peekStatement("set session role app"));
        org.junit.jupiter.api.Assertions.assertEquals(PinReason.IDENTITY,
                PinDetector.peekStatement("  SET SESSION AUTHORIZATION 'app'"));
        org.junit.jupiter.api.Assertions.assertNull(PinDetector.peekStatement("SET LOCAL ROLE app"));
        org.junit.jupiter.api.Assertions.assertNull(PinDetector.peekStatement("SET roles_enabled = on"));
        org.junit.jupiter.api.Assertions.assertEquals(PinReason.UNTRACKED_SET,
                PinDetector.peekStatement("SELECT set_config('work_mem', '1MB', false)"));
        org.junit.jupiter.api.Assertions.assertEquals(PinReason.UNTRACKED_SET,
                PinDetector.peekStatement("SELECT set_config('work_mem', $1, $2)"));
        // PostgREST's per-request settings are local to the transaction.
        org.junit.jupiter.api.Assertions.assertNull(PinDetector.peekStatement(
                "select set_config('search_path', $1, true), set_config('role', $2, true)"));
        org.junit.jupiter.api.Assertions.assertEquals(PinReason.UNTRACKED_SET, PinDetector.peekStatement(
                "select set_config('a.b', $1, true), set_config('role', $2, false)"));
    }
}
