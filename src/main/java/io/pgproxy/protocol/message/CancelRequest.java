package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.StartupPacket;

/** CancelRequest: sent on a new connection to cancel the query a backend (named by its key data) runs. */
public record CancelRequest(BackendKeyData key) {
    public byte[] encode() {
        return new MessageBuilder().beginUntagged().int32(StartupPacket.CANCEL_REQUEST_CODE)
                .int32(key.processId()).bytes(key.secretKey()).end().toByteArray();
    }
}
