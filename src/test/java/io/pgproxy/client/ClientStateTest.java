package io.pgproxy.client;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClientStateTest {
    private static final Map<ClientState, Set<ClientState>> LEGAL = Map.of(
            ClientState.LOGGING_IN, EnumSet.of(ClientState.IDLE, ClientState.CLOSING),
            ClientState.IDLE, EnumSet.of(ClientState.WAITING, ClientState.CLOSING),
            ClientState.WAITING, EnumSet.of(ClientState.ACTIVE, ClientState.IDLE, ClientState.CLOSING),
            ClientState.ACTIVE, EnumSet.of(ClientState.IDLE, ClientState.PINNED, ClientState.CLOSING),
            ClientState.PINNED, EnumSet.of(ClientState.ACTIVE, ClientState.CLOSING),
            ClientState.CLOSING, EnumSet.noneOf(ClientState.class));

    private static ClientSession in(ClientState target) throws IOException {
        ClientSession s = new ClientSession(null, SocketChannel.open());
        List<ClientState> path = switch (target) {
            case LOGGING_IN -> List.of();
            case IDLE -> List.of(ClientState.IDLE);
            case WAITING -> List.of(ClientState.IDLE, ClientState.WAITING);
            case ACTIVE -> List.of(ClientState.IDLE, ClientState.WAITING, ClientState.ACTIVE);
            case PINNED -> List.of(ClientState.IDLE, ClientState.WAITING, ClientState.ACTIVE, ClientState.PINNED);
            case CLOSING -> List.of(ClientState.CLOSING);
        };
        for (ClientState step : path) {
            assertTrue(s.moveTo(step));
        }
        assertEquals(target, s.state());
        return s;
    }

    @Test
    void everyLegalMoveIsTakenAndEveryOtherFailsLoudly() throws IOException {
        for (ClientState from : ClientState.values()) {
            for (ClientState to : ClientState.values()) {
                ClientSession s = in(from);
                if (from == ClientState.CLOSING) {
                    assertFalse(s.moveTo(to), "a closing session stays closing: " + to);
                } else if (LEGAL.get(from).contains(to)) {
                    assertTrue(s.moveTo(to), from + " -> " + to);
                    assertEquals(to, s.state());
                } else {
                    assertThrows(IllegalStateException.class, () -> s.moveTo(to), from + " -> " + to);
                    assertEquals(from, s.state(), "an illegal move changes nothing");
                }
            }
        }
    }
}
