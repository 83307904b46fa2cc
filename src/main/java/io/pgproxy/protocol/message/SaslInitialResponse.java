package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;

import java.nio.ByteBuffer;

/**
 * SASLInitialResponse ('p' during SASL): mechanism name and the client-first-message. The inner
 * length must match the bytes that are really there; a lying length is a protocol violation.
 */
public record SaslInitialResponse(String mechanism, byte[] data) {
    public static SaslInitialResponse decode(ByteBuffer body) throws ProtocolException {
        String mechanism = Wire.cstring(body);
        int length = Wire.int32(body);
        if (length == -1) {
            length = 0;
        }
        if (length != body.remaining()) {
            throw new ProtocolException("malformed SASLInitialResponse: inner length " + length
                    + " does not match the " + body.remaining() + " bytes present");
        }
        return new SaslInitialResponse(mechanism, Wire.bytes(body, length));
    }

    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'p').cstring(mechanism).int32(data.length).bytes(data)
                .end().toByteArray();
    }
}
