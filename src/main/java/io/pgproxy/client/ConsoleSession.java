package io.pgproxy.client;

import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageReader;

import java.io.IOException;

/**
 * An authenticated client of a {@link VirtualDatabase}: whole messages in, the proxy's own
 * messages out. The session stays a client like any other (listed, counted, closed at shutdown
 * when idle) but never leases a backend.
 */
public final class ConsoleSession {
    private final ClientSession client;
    private final ClientChannel out;
    private final MessageReader in;
    private final int maxMessageSize;

    ConsoleSession(ClientSession client, ClientChannel out, MessageReader in, int maxMessageSize) {
        this.client = client;
        this.out = out;
        this.in = in;
        this.maxMessageSize = maxMessageSize;
    }

    /** The client session this console runs in (what SHOW CLIENTS lists for it). */
    public ClientSession client() {
        return client;
    }

    public String id() {
        return client.id();
    }

    public String user() {
        return client.user();
    }

    public String database() {
        return client.database();
    }

    /** Waits for the next message; between commands the session counts as idle. */
    public Frame read() throws IOException {
        client.waitingForCommand(true);
        try {
            return in.read(maxMessageSize);
        } finally {
            client.waitingForCommand(false);
        }
    }

    /** Sends the proxy's messages; false when the client is gone. */
    public boolean send(byte[] messages) throws IOException {
        return out.send(messages);
    }

    /** Whether the session is still open (not closed by shutdown, KILL or the client). */
    public boolean isOpen() {
        return out.isOpen() && client.state() != ClientState.CLOSING;
    }
}
