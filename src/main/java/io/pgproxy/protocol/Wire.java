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
        for (int i = start; i < body.limit(); i++) {
            if (body.get(i) == 0) {
                byte[] bytes = new byte[i - start];
                body.get(bytes);
                body.get();
                return new String(bytes, StandardCharsets.UTF_8);
            }
        }
        throw new ProtocolException("invalid string in message: missing terminator");
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
