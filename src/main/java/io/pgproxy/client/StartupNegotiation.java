package io.pgproxy.client;

import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket;
import io.pgproxy.protocol.StartupPacket.StartupMessage;
import io.pgproxy.tls.ReadAheadChannel;
import io.pgproxy.tls.ServerTls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;

/**
 * The untagged start of a connection, up to its StartupMessage: an SSLRequest is answered 'S'
 * and the TLS handshake run when TLS is on ('N' otherwise), a connection that opens with a TLS
 * record is taken as direct TLS, a GSSENCRequest is answered 'N', and a CancelRequest is carried
 * out and ends the connection.
 */
final class StartupNegotiation {
    private static final Logger log = LoggerFactory.getLogger(StartupNegotiation.class);
    private static final byte[] ENCRYPTION_NOT_SUPPORTED = {'N'};
    private static final byte[] TLS_ACCEPTED = {'S'};
    /** The content type of a TLS handshake record: how a direct TLS connection begins. */
    private static final int TLS_HANDSHAKE_RECORD = 0x16;

    /** What the negotiation settled: the StartupMessage, and the TLS session or null. */
    record Negotiated(StartupMessage startup, ServerTls.Established tls) {
    }

    private final String id;
    private final SocketChannel socket;
    private final ClientChannel out;
    private final ClientContext context;

    StartupNegotiation(String id, SocketChannel socket, ClientChannel out, ClientContext context) {
        this.id = id;
        this.socket = socket;
        this.out = out;
        this.context = context;
    }

    /** The client's StartupMessage and TLS session, or null when the connection was a CancelRequest. */
    Negotiated run() throws IOException {
        int maxLength = context.config().get().limits().maxStartupPacketSize();
        ServerTls tls = context.tls().get();
        ReadAheadChannel raw = new ReadAheadChannel(socket);
        int first = raw.peek();
        if (first < 0) {
            throw new EOFException("connection closed by peer");
        }
        ReadableByteChannel source = raw;
        ServerTls.Established established = null;
        if (first == TLS_HANDSHAKE_RECORD) {
            if (tls == null || !tls.direct()) {
                // A TLS client cannot read a plaintext ErrorResponse; PostgreSQL just closes too.
                throw new EOFException("direct TLS connection refused: client TLS or direct TLS is off");
            }
            established = handshake(tls, raw, true);
            source = established.channel();
        }
        boolean encryptionAsked = established != null;
        while (true) {
            StartupPacket packet = StartupPacket.read(source, maxLength);
            switch (packet) {
                case StartupPacket.SslRequest r -> {
                    checkFirstRequest(encryptionAsked);
                    encryptionAsked = true;
                    if (tls == null) {
                        out.send(ENCRYPTION_NOT_SUPPORTED);
                    } else {
                        out.send(TLS_ACCEPTED);
                        established = handshake(tls, raw, false);
                        source = established.channel();
                    }
                }
                case StartupPacket.GssEncRequest r -> {
                    checkFirstRequest(encryptionAsked);
                    encryptionAsked = true;
                    out.send(ENCRYPTION_NOT_SUPPORTED);
                }
                case StartupPacket.CancelRequest c -> {
                    ClientSession target = context.registry().forCancel(c.processId(), c.secretKey());
                    if (target != null) {
                        log.info("{} cancel request for {}", id, target.id());
                        target.cancelBackend();
                    } else {
                        log.info("{} cancel request with an unknown key ignored", id);
                    }
                    return null;
                }
                case StartupMessage m -> {
                    return new Negotiated(m, established);
                }
            }
        }
    }

    private ServerTls.Established handshake(ServerTls tls, ReadAheadChannel raw, boolean direct) throws IOException {
        ServerTls.Established e = tls.handshake(raw, direct);
        out.upgrade(e.channel());
        log.debug("{} TLS established ({}{})", id, e.info().describe(), direct ? ", direct" : "");
        return e;
    }

    /**
     * Only one SSLRequest or GSSENCRequest, and nothing sent behind it: bytes the client sent
     * before reading the answer would be read as the next packet, or fed to the handshake,
     * although the client meant them for an encrypted channel (CVE-2021-23214, CVE-2021-3935).
     */
    private void checkFirstRequest(boolean askedBefore) throws IOException {
        if (askedBefore) {
            throw new ProtocolException("duplicate SSLRequest or GSSENCRequest");
        }
        if (hasBufferedInput()) {
            throw new ProtocolException("received unencrypted data after SSL request");
        }
    }

    private boolean hasBufferedInput() throws IOException {
        ByteBuffer probe = ByteBuffer.allocate(1);
        socket.configureBlocking(false);
        try {
            return socket.read(probe) > 0;
        } finally {
            socket.configureBlocking(true);
        }
    }
}
