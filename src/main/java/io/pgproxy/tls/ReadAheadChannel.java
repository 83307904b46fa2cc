package io.pgproxy.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;

/**
 * A client's socket with one byte of read-ahead. The first byte of a connection is read early
 * to tell a direct TLS handshake from a startup packet; under TLS, {@link #awaitInput} waits
 * for a client's next record holding one byte rather than a TLS record buffer, so that an idle
 * client costs no buffer. A byte read ahead is read again first.
 */
public final class ReadAheadChannel implements ByteChannel {
    private final ByteChannel channel;
    private final ByteBuffer ahead = ByteBuffer.allocate(1).limit(0);
    private boolean endOfStream;

    public ReadAheadChannel(ByteChannel channel) {
        this.channel = channel;
    }

    /** Blocks until one byte (kept for the next read) or the end of the stream has arrived. */
    public void awaitInput() throws IOException {
        if (ahead.hasRemaining() || endOfStream) {
            return;
        }
        ahead.clear();
        int n = channel.read(ahead);
        ahead.flip();
        endOfStream = n < 0;
    }

    /** The byte read ahead, or -1 at the end of the stream. */
    public int peek() throws IOException {
        awaitInput();
        return ahead.hasRemaining() ? ahead.get(ahead.position()) & 0xFF : -1;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!ahead.hasRemaining()) {
            return endOfStream ? -1 : channel.read(dst);
        }
        if (!dst.hasRemaining()) {
            return 0;
        }
        dst.put(ahead.get());
        return 1;
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
