package io.pgproxy.backend;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackendStateTest {
    private static final Map<BackendState, Set<BackendState>> LEGAL = Map.of(
            BackendState.CONNECTING, EnumSet.of(BackendState.LOGGING_IN, BackendState.CLOSED),
            BackendState.LOGGING_IN, EnumSet.of(BackendState.IDLE, BackendState.CLOSED),
            BackendState.IDLE, EnumSet.of(BackendState.ACTIVE, BackendState.CLOSED),
            BackendState.ACTIVE, EnumSet.of(BackendState.IDLE, BackendState.RESETTING, BackendState.CLOSED),
            BackendState.RESETTING, EnumSet.of(BackendState.IDLE, BackendState.CLOSED),
            BackendState.CLOSED, EnumSet.noneOf(BackendState.class));

    private static BackendConnection connection() {
        return BackendConnection.create(new BackendTarget("127.0.0.1", 1, "db", "u",
                () -> BackendCredentials.NONE, Duration.ofSeconds(1), new BackendAuthLimits(10_000, 1024, 65536),
                () -> { throw new AssertionError("no connect here"); }, io.pgproxy.config.RequireAuth.BY_TLS), null,
                new io.pgproxy.session.ReplyClock());
    }

    /** Drives a new connection along a legal path to {@code target}. */
    private static BackendConnection in(BackendState target) {
        BackendConnection c = connection();
        List<BackendState> path = switch (target) {
            case CONNECTING -> List.of();
            case LOGGING_IN -> List.of(BackendState.LOGGING_IN);
            case IDLE -> List.of(BackendState.LOGGING_IN, BackendState.IDLE);
            case ACTIVE -> List.of(BackendState.LOGGING_IN, BackendState.IDLE, BackendState.ACTIVE);
            case RESETTING -> List.of(BackendState.LOGGING_IN, BackendState.IDLE, BackendState.ACTIVE, BackendState.RESETTING);
            case CLOSED -> List.of(BackendState.CLOSED);
        };
        path.forEach(s -> assertTrue(c.moveTo(s)));
        assertEquals(target, c.state());
        return c;
    }

    @Test
    void everyLegalMoveIsTakenAndEveryOtherFailsLoudly() {
        for (BackendState from : BackendState.values()) {
            for (BackendState to : BackendState.values()) {
                BackendConnection c = in(from);
                if (from == BackendState.CLOSED) {
                    assertFalse(c.moveTo(to), "a closed connection stays closed: " + to);
                } else if (LEGAL.get(from).contains(to)) {
                    assertTrue(c.moveTo(to), from + " -> " + to);
                    assertEquals(to, c.state());
                } else {
                    assertThrows(IllegalStateException.class, () -> c.moveTo(to), from + " -> " + to);
                    assertEquals(from, c.state(), "an illegal move changes nothing");
                }
            }
        }
    }

    @Test
    void aNewConnectionIsConnectingAndNotReadyForAnyone() {
        BackendConnection c = connection();
        assertEquals(BackendState.CONNECTING, c.state());
        assertEquals(BackendConnection.Readiness.BROKEN, c.readiness());
    }

    @Test
    void aConnectionStillLoggingInHasNoBackendPidYet() {
        assertEquals(0, connection().backendPid(), "SHOW SERVERS lists it before BackendKeyData arrives");
    }
}
