package io.pgproxy.protocol.message;

/** EmptyQueryResponse ('I'): the answer to an empty query string. */
public record EmptyQueryResponse() {
    private static final byte[] BYTES = {'I', 0, 0, 0, 4};

    public byte[] encode() {
        return BYTES.clone();
    }
}
