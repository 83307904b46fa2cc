package io.pgproxy.client;

import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket;
import io.pgproxy.protocol.StartupPacket.StartupMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * The untagged start of a connection, up to its StartupMessage: SSLRequest and GSSENCRequest
 * are answered 'N' (no encryption yet), a CancelRequest is carried out and ends the connection.
 */
final class StartupNegotiation {
    private static final Logger log = LoggerFactory.getLogger(StartupNegotiation.class);
    private static final byte[] ENCRYPTION_NOT_SUPPORTED = {'N'};

    private final String id;
    private final SocketChannel channel;
    private final ClientChannel out;
    private final ClientContext context;

    StartupNegotiation(String id, SocketChannel channel, ClientChannel out, ClientContext context) {
        this.id = id;
        this.channel = channel;
        this.out = out;
        this.context = context;
    }

    /** The client's StartupMessage, or null when the connection was a CancelRequest. */
    StartupMessage run() throws IOException {
        int maxLength = context.config().get().limits().maxStartupPacketSize();
        boolean encryptionAsked = false;
        while (true) {
            StartupPacket packet = StartupPacket.read(channel, maxLength);
            switch (packet) {
                case StartupPacket.SslRequest r -> {
                    refuseEncryption(encryptionAsked);
                    encryptionAsked = true;
                }
                case StartupPacket.GssEncRequest r -> {
                    refuseEncryption(encryptionAsked);
                    encryptionAsked = true;
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
                    return m;
                }
            }
        }
    }

    /**
     * Answers 'N'. Bytes the client sent before reading that answer would be read as the next
     * packet, although the client meant them for an encrypted channel (CVE-2021-23214): refuse.
     */
    private void refuseEncryption(boolean askedBefore) throws IOException {
        if (askedBefore) {
            throw new ProtocolException("duplicate SSLRequest or GSSENCRequest");
        }
        if (hasBufferedInput()) {
            throw new ProtocolException("received unencrypted data after SSL request");
        }
        out.send(ENCRYPTION_NOT_SUPPORTED);
    }

    private boolean hasBufferedInput() throws IOException {
        ByteBuffer probe = ByteBuffer.allocate(1);
        channel.configureBlocking(false);
        try {
            return channel.read(probe) > 0;
        } finally {
            channel.configureBlocking(true);
        }
    }
}
