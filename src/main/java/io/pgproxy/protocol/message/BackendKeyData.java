package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;

import java.nio.ByteBuffer;

/** BackendKeyData ('K'): process id and secret key a client needs to send a CancelRequest. */
public record BackendKeyData(int processId, byte[] secretKey) {
    public static BackendKeyData decode(ByteBuffer body) throws ProtocolException {
        int pid = Wire.int32(body);
        if (body.remaining() < 4 || body.remaining() > 256) {
            throw new ProtocolException("invalid BackendKeyData length");
        }
        return new BackendKeyData(pid, Wire.bytes(body, body.remaining()));
    }

    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'K').int32(processId).bytes(secretKey).end().toByteArray();
    }

    @Override
    public String toString() {
        return "BackendKeyData[processId=" + processId + "]";
    }
}
