package io.pgproxy.backend;

import io.pgproxy.protocol.message.BackendKeyData;
import io.pgproxy.protocol.message.CancelRequest;
import io.pgproxy.tls.BackendTlsContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * A CancelRequest for a backend's current query, over a connection of its own: over TLS,
 * negotiated as for a login, when the database's sslmode requires TLS (the cancel key must not
 * cross the network readable where the data would not).
 */
final class BackendCancel {
    private static final Logger log = LoggerFactory.getLogger(BackendCancel.class);

    private BackendCancel() {
    }

    /** Sends the request for the connection {@code id}; failures are logged, never thrown. */
    static void send(String id, BackendTarget target, BackendKeyData keyData) {
        try (SocketChannel c = SocketChannel.open()) {
            c.socket().connect(new InetSocketAddress(target.host(), target.port()),
                    (int) Math.min(Integer.MAX_VALUE, target.connectTimeout().toMillis()));
            try (ConnectDeadline deadline = ConnectDeadline.start(c, target.connectTimeout())) {
                sendOn(c, id, target, keyData);
            }
        } catch (IOException e) {
            log.info("{} cancel request failed: {}", id, e.getMessage());
        }
    }

    /** The TLS handshake when the sslmode requires it, the request, and the backend's hang-up. */
    private static void sendOn(SocketChannel c, String id, BackendTarget target, BackendKeyData keyData) throws IOException {
        BackendTlsContext tls = target.tls().get();
        BackendSocket socket = BackendSocket.plain(c);
        if (tls.settings().mode().requiresTls()) {
            socket = BackendTlsHandshake.start(c, target, tls);
            if (socket == null) {
                throw new IOException("backend no longer offers TLS, which sslmode "
                        + tls.settings().mode().libpqName() + " requires");
            }
        }
        ByteBuffer b = ByteBuffer.wrap(new CancelRequest(keyData).encode());
        while (b.hasRemaining()) {
            socket.write(b);
        }
        // The backend closes the socket when it has read the request; waiting for that
        // keeps the cancel ordered before whatever the client does next.
        try {
            socket.read(ByteBuffer.allocate(1));
        } catch (IOException hungUp) {
            // Over TLS the backend hangs up without a close_notify: the request was read all the same.
        }
        BackendConnection.closeQuietly(socket);
        log.debug("{} cancel request sent{}", id, socket.isTls() ? " over TLS" : "");
    }
}
