package io.pgproxy.client;

import io.pgproxy.backend.BackendConnection;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The pieces of one edited run on their way to a backend: slices of the client's bytes and the
 * proxy's own messages between them, written with one gathering write.
 */
final class Outbox {
    private ByteBuffer[] parts = new ByteBuffer[8];
    private int count;

    void add(ByteBuffer part) {
        if (count == parts.length) {
            parts = Arrays.copyOf(parts, count * 2);
        }
        parts[count++] = part;
    }

    void add(byte[] bytes) {
        add(ByteBuffer.wrap(bytes));
    }

    void flushTo(BackendConnection backend) throws IOException {
        if (count > 0) {
            backend.send(parts, count);
        }
        clear();
    }

    void clear() {
        Arrays.fill(parts, 0, count, null);
        count = 0;
    }
}
