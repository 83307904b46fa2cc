package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;

import java.nio.ByteBuffer;

/** ParameterStatus ('S'): the backend reports the current value of a run-time parameter. */
public record ParameterStatus(String name, String value) {
    public static ParameterStatus decode(ByteBuffer body) throws ProtocolException {
        return new ParameterStatus(Wire.cstring(body), Wire.cstring(body));
    }

    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'S').cstring(name).cstring(value).end().toByteArray();
    }
}
