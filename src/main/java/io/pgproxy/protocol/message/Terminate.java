package io.pgproxy.protocol.message;

/** Terminate ('X'): the proxy closes a backend connection politely. */
public record Terminate() {
    private static final byte[] BYTES = {'X', 0, 0, 0, 4};

    public byte[] encode() {
        return BYTES.clone();
    }
}
