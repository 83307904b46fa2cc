package io.pgproxy.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes to one client. Two threads write here: the backend's reader relaying replies, and the
 * client's own thread (greeting, errors). A lock keeps their writes whole, and the proxy's own
 * messages go out only between relayed messages, never inside one. Writes go through the
 * transport: the socket itself, or the TLS channel over it once a handshake has run.
 */
final class ClientChannel {
    private final SocketChannel socket;
    private final ReentrantLock lock = new ReentrantLock();
    /** Set before login, when only the client's own thread writes; read by every writer after. */
    private volatile ByteChannel transport;
    private boolean atBoundary = true;
    private boolean closed;

    ClientChannel(SocketChannel socket) {
        this.socket = socket;
        this.transport = socket;
    }

    /** From now on, writes go through {@code tls} (a finished handshake over the socket). */
    void upgrade(ByteChannel tls) {
        transport = tls;
    }

    boolean isOpen() {
        return socket.isOpen();
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

    /** Closes once no write is in progress; over TLS, with a close_notify first, as PostgreSQL does. */
    void close() {
        lock.lock();
        try {
            closed = true;
            if (transport != socket) {
                transport.close();
            }
        } catch (IOException ignored) {
            // The client is gone; the socket is closed below.
        } finally {
            lock.unlock();
        }
        abort();
    }

    /** Closes without waiting for a writer that may be blocked on a slow client. */
    void abort() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Already closed.
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        ByteChannel t = transport;
        while (b.hasRemaining()) {
            t.write(b);
        }
    }
}
