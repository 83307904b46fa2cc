package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

/** Parse ('P') of a statement with no parameter types given, as the proxy's own hidden batches send it. */
public record Parse(String name, String sql) {
    public void encodeTo(MessageBuilder b) {
        b.begin((byte) 'P').cstring(name).cstring(sql).int16(0).end();
    }
}
