package io.pgproxy.tls;

import tlschannel.TlsChannel;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;

/**
 * A client's TLS channel that waits for input without a buffer. A read on a bare TLS channel
 * blocks inside it holding a record-sized buffer (16 KB), so every idle client would keep one;
 * here, when the channel holds no buffer (so it has no input buffered), the wait is for one
 * byte on the socket, and the TLS read starts once the client's next record is arriving.
 */
public final class ClientTlsChannel implements ByteChannel {
    private final TlsChannel tls;
    private final ReadAheadChannel raw;
    private final PooledTlsBuffers buffers;

    ClientTlsChannel(TlsChannel tls, ReadAheadChannel raw, PooledTlsBuffers buffers) {
        this.tls = tls;
        this.raw = raw;
        this.buffers = buffers;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (buffers.held() == 0) {
            raw.awaitInput();
        }
        return tls.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return tls.write(src);
    }

    @Override
    public boolean isOpen() {
        return tls.isOpen();
    }

    /**
     * Sends close_notify, closes the socket, and closes the engine's inbound side too, so the
     * engine is done at once rather than whenever it is collected (a native engine, such as
     * Conscrypt's, held a pipe per connection until then).
     */
    @Override
    public void close() throws IOException {
        try {
            tls.close();
        } finally {
            try {
                tls.getSslEngine().closeInbound();
            } catch (SSLException noCloseNotify) {
                // The client left without close_notify; the engine is closed all the same.
            }
        }
    }
}
