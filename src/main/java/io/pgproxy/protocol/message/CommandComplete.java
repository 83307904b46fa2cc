package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

/** CommandComplete ('C'): the command tag of a statement the proxy answers itself (the admin console). */
public record CommandComplete(String tag) {
    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'C').cstring(tag).end().toByteArray();
    }
}
