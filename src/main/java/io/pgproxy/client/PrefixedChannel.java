package io.pgproxy.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;

/**
 * A channel whose first bytes were already read to tell a direct TLS connection from a startup
 * packet: those are read again first, then the channel's own.
 */
final class PrefixedChannel implements ByteChannel {
    private final ByteBuffer prefix;
    private final ByteChannel channel;

    PrefixedChannel(ByteBuffer prefix, ByteChannel channel) {
        this.prefix = prefix;
        this.channel = channel;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!prefix.hasRemaining()) {
            return channel.read(dst);
        }
        int n = Math.min(prefix.remaining(), dst.remaining());
        ByteBuffer part = prefix.slice(prefix.position(), n);
        dst.put(part);
        prefix.position(prefix.position() + n);
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
