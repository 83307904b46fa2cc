package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

/** SASLResponse ('p' after SASLInitialResponse): the next SASL message, here SCRAM's client-final-message. */
public record SaslResponse(byte[] data) {
    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'p').bytes(data).end().toByteArray();
    }
}
