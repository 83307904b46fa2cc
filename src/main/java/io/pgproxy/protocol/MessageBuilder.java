package io.pgproxy.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds one or more messages into a growable heap array. Used for the few messages the proxy
 * writes itself (startup replies, errors, internal queries); relayed traffic never goes
 * through here.
 */
public final class MessageBuilder {
    private byte[] bytes = new byte[256];
    private int size;
    private int messageStart = -1;

    /** Starts a tagged message; its length is filled in by {@link #end()}. */
    public MessageBuilder begin(byte tag) {
        ensure(5);
        bytes[size++] = tag;
        messageStart = size;
        size += 4;
        return this;
    }

    /** Starts an untagged startup-phase packet (length first). */
    public MessageBuilder beginUntagged() {
        ensure(4);
        messageStart = size;
        size += 4;
        return this;
    }

    public MessageBuilder int8(int v) {
        ensure(1);
        bytes[size++] = (byte) v;
        return this;
    }

    public MessageBuilder int16(int v) {
        ensure(2);
        bytes[size++] = (byte) (v >>> 8);
        bytes[size++] = (byte) v;
        return this;
    }

    public MessageBuilder int32(int v) {
        ensure(4);
        putInt(size, v);
        size += 4;
        return this;
    }

    public MessageBuilder bytes(byte[] b) {
        ensure(b.length);
        System.arraycopy(b, 0, bytes, size, b.length);
        size += b.length;
        return this;
    }

    /** A NUL-terminated UTF-8 string, as the protocol's String type. */
    public MessageBuilder cstring(String s) {
        return bytes(s.getBytes(StandardCharsets.UTF_8)).int8(0);
    }

    public MessageBuilder end() {
        if (messageStart < 0) {
            throw new IllegalStateException("end() without begin()");
        }
        putInt(messageStart, size - messageStart);
        messageStart = -1;
        return this;
    }

    public int size() {
        return size;
    }

    public byte[] toByteArray() {
        return Arrays.copyOf(bytes, size);
    }

    public ByteBuffer toBuffer() {
        return ByteBuffer.wrap(bytes, 0, size);
    }

    private void putInt(int at, int v) {
        bytes[at] = (byte) (v >>> 24);
        bytes[at + 1] = (byte) (v >>> 16);
        bytes[at + 2] = (byte) (v >>> 8);
        bytes[at + 3] = (byte) v;
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
        }
    }
}
