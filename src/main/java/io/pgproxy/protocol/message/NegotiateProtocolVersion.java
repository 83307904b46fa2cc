package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

import java.util.List;

/**
 * NegotiateProtocolVersion ('v'): tells a client that asked for a newer minor version, or for
 * protocol options ({@code _pq_.*}), what the proxy supports, so the client can carry on.
 */
public record NegotiateProtocolVersion(int newestMinorVersion, List<String> unrecognizedOptions) {
    public byte[] encode() {
        MessageBuilder b = new MessageBuilder().begin((byte) 'v')
                .int32((3 << 16) | newestMinorVersion).int32(unrecognizedOptions.size());
        unrecognizedOptions.forEach(b::cstring);
        return b.end().toByteArray();
    }
}
