package io.pgproxy.protocol;

import java.nio.ByteBuffer;

/**
 * One whole message read during a phase where the proxy interprets everything (startup,
 * authentication, internal queries). The body excludes tag and length.
 */
public record Frame(byte tag, ByteBuffer body) {
    public char tagChar() {
        return (char) (tag & 0xFF);
    }
}
