package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

/** Sync ('S'): ends an extended-protocol batch; the backend answers with one ReadyForQuery. */
public record Sync() {
    public void encodeTo(MessageBuilder b) {
        b.begin((byte) 'S').end();
    }
}
