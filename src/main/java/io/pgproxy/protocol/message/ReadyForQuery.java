package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;

import java.nio.ByteBuffer;

/** ReadyForQuery ('Z'): the backend finished a request and is in the given transaction status. */
public record ReadyForQuery(TransactionStatus status) {
    public static ReadyForQuery decode(ByteBuffer body) throws ProtocolException {
        if (body.remaining() != 1) {
            throw new ProtocolException("invalid ReadyForQuery length");
        }
        return new ReadyForQuery(TransactionStatus.of(body.get()));
    }

    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'Z').int8(status.code()).end().toByteArray();
    }
}
