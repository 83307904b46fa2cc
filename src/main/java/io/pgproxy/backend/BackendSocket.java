package io.pgproxy.backend;

import io.pgproxy.tls.Certificates;
import tlschannel.TlsChannel;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.security.cert.X509Certificate;

/**
 * What a backend connection reads and writes: its blocking socket, or TLS over it. TLS allows one
 * reader and one writer at once, as the socket does, and gathering writes.
 */
final class BackendSocket implements ByteChannel, GatheringByteChannel {
    private final SocketChannel socket;
    /** Null for a plaintext connection. */
    private final TlsChannel tls;

    private BackendSocket(SocketChannel socket, TlsChannel tls) {
        this.socket = socket;
        this.tls = tls;
    }

    static BackendSocket plain(SocketChannel socket) {
        return new BackendSocket(socket, null);
    }

    static BackendSocket tls(SocketChannel socket, TlsChannel tls) {
        return new BackendSocket(socket, tls);
    }

    boolean isTls() {
        return tls != null;
    }

    /** The TLS session, or null for plaintext. */
    SSLSession tlsSession() {
        return tls == null ? null : tls.getSslEngine().getSession();
    }

    /** tls-server-end-point data of the backend's certificate (SCRAM-SHA-256-PLUS), or null without TLS. */
    byte[] serverEndPoint() throws SSLPeerUnverifiedException {
        SSLSession s = tlsSession();
        if (s == null || s.getPeerCertificates().length == 0
                || !(s.getPeerCertificates()[0] instanceof X509Certificate leaf)) {
            return null;
        }
        return Certificates.tlsServerEndPoint(leaf);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return tls != null ? tls.read(dst) : socket.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return tls != null ? tls.write(src) : socket.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return tls != null ? tls.write(srcs, offset, length) : socket.write(srcs, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public boolean isOpen() {
        return socket.isOpen();
    }

    /**
     * Closes the socket first: that unblocks a reader or writer inside TLS, and a close_notify is
     * not worth a write that could block on a stuck backend. Then TLS, to free its buffers.
     */
    @Override
    public void close() throws IOException {
        socket.close();
        if (tls != null) {
            try {
                tls.close();
            } catch (IOException ignored) {
                // The socket is closed already; only the buffers mattered.
            }
        }
    }
}
