package io.pgproxy.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;

/**
 * A client's socket with a little read-ahead. The first byte of a connection is read early to
 * tell a direct TLS handshake from a startup packet; under TLS, {@link #awaitInput} waits for a
 * client's next record into a small buffer rather than a TLS record buffer (16 KB), so that an
 * idle client costs none. Bytes read ahead are read again first.
 */
public final class ReadAheadChannel implements ByteChannel {
    /** A typical request record whole (pgbench's are 80-250 bytes with TLS), so it takes one read. */
    private static final int READ_AHEAD = 512;

    private final ByteChannel channel;
    /**
     * One heap byte for the first peek; a direct buffer once a TLS client waits for records,
     * since a socket read into a heap buffer goes through a temporary direct one (measured: a
     * carrier-thread-local lookup and a copy per request).
     */
    private ByteBuffer ahead = ByteBuffer.allocate(1).limit(0);
    private boolean endOfStream;

    public ReadAheadChannel(ByteChannel channel) {
        this.channel = channel;
    }

    /** Blocks until input (kept for the next reads) or the end of the stream has arrived. */
    public void awaitInput() throws IOException {
        fill(READ_AHEAD);
    }

    /**
     * The connection's first byte, or -1 at the end of the stream. Only that byte is read: the
     * rest is for whoever reads the channel next (the socket itself, for a plaintext client).
     */
    public int peek() throws IOException {
        fill(1);
        return ahead.hasRemaining() ? ahead.get(ahead.position()) & 0xFF : -1;
    }

    private void fill(int limit) throws IOException {
        if (ahead.hasRemaining() || endOfStream) {
            return;
        }
        if (limit > ahead.capacity()) {
            ahead = ByteBuffer.allocateDirect(READ_AHEAD);
        }
        ahead.clear().limit(limit);
        int n = channel.read(ahead);
        ahead.flip();
        endOfStream = n < 0;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!ahead.hasRemaining()) {
            return endOfStream ? -1 : channel.read(dst);
        }
        int n = Math.min(ahead.remaining(), dst.remaining());
        dst.put(dst.position(), ahead, ahead.position(), n);
        dst.position(dst.position() + n);
        ahead.position(ahead.position() + n);
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return channel.write(src);
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
