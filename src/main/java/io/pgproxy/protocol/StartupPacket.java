package io.pgproxy.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The untagged packets a client may send before authentication: {@code length:int32,
 * code:int32, body}. The code tells them apart (protocol version or a request code).
 */
public sealed interface StartupPacket {
    int SSL_REQUEST_CODE = 80877103;
    int GSSENC_REQUEST_CODE = 80877104;
    int CANCEL_REQUEST_CODE = 80877102;
    /** Protocol 3.0; 3.2 is 196610. */
    int PROTOCOL_3_0 = 196608;

    /** StartupMessage: protocol version and name/value parameters (user, database, ...). */
    record StartupMessage(int protocolVersion, Map<String, String> parameters) implements StartupPacket {
        /** The untagged packet, parameters in the map's order, as the proxy sends it to a backend. */
        public byte[] encode() {
            MessageBuilder b = new MessageBuilder().beginUntagged().int32(protocolVersion);
            parameters.forEach((k, v) -> b.cstring(k).cstring(v));
            return b.int8(0).end().toByteArray();
        }

        public int majorVersion() {
            return protocolVersion >>> 16;
        }

        public int minorVersion() {
            return protocolVersion & 0xFFFF;
        }
    }

    record SslRequest() implements StartupPacket {
    }

    record GssEncRequest() implements StartupPacket {
    }

    /** CancelRequest; the key is 4 bytes in protocol 3.0 and up to 256 bytes in 3.2. */
    record CancelRequest(int processId, byte[] secretKey) implements StartupPacket {
    }

    /**
     * Reads one startup-phase packet. A length below 8 or above {@code maxLength}, an unknown
     * request code or a malformed parameter list is a {@link ProtocolException}.
     */
    static StartupPacket read(ReadableByteChannel channel, int maxLength) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(8);
        MessageReader.readFully(channel, head);
        int length = head.getInt(0);
        int code = head.getInt(4);
        if (length < 8 || length > maxLength) {
            throw new ProtocolException("invalid startup packet length " + Integer.toUnsignedString(length));
        }
        ByteBuffer body = ByteBuffer.allocate(length - 8);
        MessageReader.readFully(channel, body);
        body.flip();
        return decode(code, body);
    }

    static StartupPacket decode(int code, ByteBuffer body) throws ProtocolException {
        switch (code) {
            case SSL_REQUEST_CODE -> {
                requireEmpty(body, "SSLRequest");
                return new SslRequest();
            }
            case GSSENC_REQUEST_CODE -> {
                requireEmpty(body, "GSSENCRequest");
                return new GssEncRequest();
            }
            case CANCEL_REQUEST_CODE -> {
                if (body.remaining() < 8 || body.remaining() > 4 + 256) {
                    throw new ProtocolException("invalid CancelRequest length");
                }
                int pid = body.getInt();
                byte[] key = new byte[body.remaining()];
                body.get(key);
                return new CancelRequest(pid, key);
            }
            default -> {
                if ((code >>> 16) != 3) {
                    throw new ProtocolException("0A000", "unsupported frontend protocol "
                            + (code >>> 16) + "." + (code & 0xFFFF)
                            + ": server supports 3.0 to 3.0");
                }
                return new StartupMessage(code, parameters(body));
            }
        }
    }

    private static void requireEmpty(ByteBuffer body, String what) throws ProtocolException {
        if (body.hasRemaining()) {
            throw new ProtocolException("invalid " + what + " length");
        }
    }

    private static Map<String, String> parameters(ByteBuffer body) throws ProtocolException {
        Map<String, String> params = new LinkedHashMap<>();
        while (true) {
            String name = Wire.cstring(body);
            if (name.isEmpty()) {
                break;
            }
            String value = Wire.cstring(body);
            if (params.put(name, value) != null) {
                throw new ProtocolException("duplicate startup parameter \"" + name + "\"");
            }
        }
        if (body.hasRemaining()) {
            throw new ProtocolException("invalid startup packet layout: expected terminator as last byte");
        }
        return params;
    }
}
