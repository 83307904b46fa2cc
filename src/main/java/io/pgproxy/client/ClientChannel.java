package io.pgproxy.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes to one client. Two threads write here: the backend's reader relaying replies, and the
 * client's own thread (greeting, errors). A lock keeps their writes whole, and the proxy's own
 * messages go out only between relayed messages, never inside one.
 */
final class ClientChannel {
    private final SocketChannel channel;
    private final ReentrantLock lock = new ReentrantLock();
    private boolean atBoundary = true;
    private boolean closed;

    ClientChannel(SocketChannel channel) {
        this.channel = channel;
    }

    SocketChannel channel() {
        return channel;
    }

    /** Relays a run from the backend. */
    void forward(ByteBuffer run, boolean boundaryAfter) throws IOException {
        lock.lock();
        try {
            if (closed) {
                throw new ClosedChannelException();
            }
            writeFully(run);
            atBoundary = boundaryAfter;
        } finally {
            lock.unlock();
        }
    }

    /** Sends the proxy's own messages; skipped (false) when a relayed message is half written. */
    boolean send(byte[] messages) throws IOException {
        lock.lock();
        try {
            if (closed || !atBoundary) {
                return false;
            }
            writeFully(ByteBuffer.wrap(messages));
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Best effort: a last message to a client that may already be gone. */
    void sendQuietly(byte[] messages) {
        try {
            send(messages);
        } catch (IOException ignored) {
            // The client is gone; nothing to tell it.
        }
    }

    void close() {
        lock.lock();
        try {
            closed = true;
        } finally {
            lock.unlock();
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // Already closed.
        }
    }

    /** Closes without waiting for a writer that may be blocked on a slow client. */
    void abort() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Already closed.
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }
}
