package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

/** Query ('Q'): a simple-protocol request the proxy sends itself (a rollback, a reset query). */
public record Query(String sql) {
    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'Q').cstring(sql).end().toByteArray();
    }
}
