package io.pgproxy.backend;

import io.pgproxy.config.SslNegotiation;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.tls.BackendTlsContext;
import tlschannel.ClientTlsChannel;
import tlschannel.TlsChannel;

import javax.net.ssl.SSLException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Starts TLS on a freshly connected backend socket: an SSLRequest and the backend's one-byte answer,
 * or directly (PostgreSQL 17's sslnegotiation=direct), then the handshake with the database's
 * context. The same for a login and for a CancelRequest.
 */
final class BackendTlsHandshake {
    private static final int SSL_REQUEST_LENGTH = 8;

    private BackendTlsHandshake() {
    }

    /** TLS over {@code raw}, or null when the backend answered the SSLRequest with N (it has no TLS). */
    static BackendSocket start(SocketChannel raw, BackendTarget target, BackendTlsContext context) throws IOException {
        if (context.settings().negotiation() == SslNegotiation.POSTGRES && !backendAcceptsSsl(raw, target)) {
            return null;
        }
        // Buffers kept for the connection's life: tls-channel's default releases them whenever they
        // empty and allocates again on the next record, garbage per round trip on a busy backend;
        // backend connections are few (bounded by the pools), so holding them costs little.
        TlsChannel tls = ClientTlsChannel.newBuilder(raw, context.newEngine(target.host(), target.port()))
                .withReleaseBuffers(false)
                .build();
        try {
            tls.handshake();
        } catch (SSLException e) {
            throw new BackendException(ErrorResponse.error("08001", "TLS with backend " + target.host() + ":"
                    + target.port() + " failed (sslmode " + context.settings().mode().libpqName() + "): "
                    + reason(e)), e);
        }
        return BackendSocket.tls(raw, tls);
    }

    private static boolean backendAcceptsSsl(SocketChannel raw, BackendTarget target) throws IOException {
        ByteBuffer request = ByteBuffer.allocate(SSL_REQUEST_LENGTH)
                .putInt(SSL_REQUEST_LENGTH).putInt(StartupPacket.SSL_REQUEST_CODE).flip();
        while (request.hasRemaining()) {
            raw.write(request);
        }
        // Exactly one byte: anything the backend sent after its S is part of the handshake and
        // must fail it, never be read as plaintext (CVE-2021-23222 in libpq).
        ByteBuffer answer = ByteBuffer.allocate(1);
        if (raw.read(answer) < 0) {
            throw new EOFException("backend closed the connection after SSLRequest");
        }
        return switch (answer.get(0)) {
            case 'S' -> true;
            case 'N' -> false;
            // A server too old for SSLRequest answers with an error; it has no TLS either.
            case 'E' -> throw new BackendException(ErrorResponse.error("08001", "backend " + target.host() + ":"
                    + target.port() + " answered the SSLRequest with an error"), null);
            default -> throw new ProtocolException("invalid answer to SSLRequest from the backend");
        };
    }

    private static String reason(Exception e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage();
        return m == null ? t.getClass().getSimpleName() : m;
    }
}
