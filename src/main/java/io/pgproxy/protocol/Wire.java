package io.pgproxy.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Reading the protocol's primitive types from a message body, with bounds checked. */
public final class Wire {
    private Wire() {
    }

    /** A NUL-terminated string; running off the end of the body is a protocol violation. */
    public static String cstring(ByteBuffer body) throws ProtocolException {
        int start = body.position();
        int nul = terminator(body, start, body.limit());
        body.position(nul + 1);
        return string(body, start, nul);
    }

    /**
     * A NUL-terminated string at an absolute index, the buffer's position untouched: for
     * decoding in place while scanning a relayed run.
     */
    public static String cstring(ByteBuffer buffer, int start, int end) throws ProtocolException {
        return string(buffer, start, terminator(buffer, start, end));
    }

    private static int terminator(ByteBuffer buffer, int start, int end) throws ProtocolException {
        for (int i = start; i < end; i++) {
            if (buffer.get(i) == 0) {
                return i;
            }
        }
        throw new ProtocolException("invalid string in message: missing terminator");
    }

    private static String string(ByteBuffer buffer, int start, int nul) {
        byte[] bytes = new byte[nul - start];
        buffer.get(start, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    public static int int32(ByteBuffer body) throws ProtocolException {
        if (body.remaining() < 4) {
            throw new ProtocolException("invalid message format: truncated int32");
        }
        return body.getInt();
    }

    public static byte[] bytes(ByteBuffer body, int n) throws ProtocolException {
        if (n < 0 || body.remaining() < n) {
            throw new ProtocolException("invalid message format: length " + n + " exceeds message");
        }
        byte[] b = new byte[n];
        body.get(b);
        return b;
    }
}
