package io.pgproxy.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Reads whole messages from a blocking channel, for the phases where every message is
 * interpreted. The length is checked against a limit before any body byte is read, so a lying
 * length cannot make the proxy allocate or wait for more than the limit.
 */
public final class MessageReader {
    private final ReadableByteChannel channel;
    private final ByteBuffer header = ByteBuffer.allocate(5);

    public MessageReader(ReadableByteChannel channel) {
        this.channel = channel;
    }

    /** Reads one tagged message whose total length must not exceed {@code maxLength}. */
    public Frame read(int maxLength) throws IOException {
        header.clear();
        readFully(channel, header);
        byte tag = header.get(0);
        int length = header.getInt(1);
        if (length < 4 || length > maxLength) {
            throw new ProtocolException("invalid message length " + Integer.toUnsignedString(length)
                    + " for message type '" + printable(tag) + "' (limit " + maxLength + ")");
        }
        ByteBuffer body = ByteBuffer.allocate(length - 4);
        readFully(channel, body);
        body.flip();
        return new Frame(tag, body);
    }

    public static void readFully(ReadableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException("connection closed by peer");
            }
        }
    }

    static String printable(byte tag) {
        int c = tag & 0xFF;
        return c >= 0x20 && c < 0x7F ? String.valueOf((char) c) : String.format("\\x%02x", c);
    }
}
