package io.pgproxy.auth;

import java.util.Objects;

/**
 * The channel binding side of one server SCRAM exchange (RFC 5802 §6, RFC 5929): whether
 * SCRAM-SHA-256-PLUS was offered, whether the client selected it, and the
 * {@code tls-server-end-point} data of the certificate the proxy presented.
 *
 * @param offered        PLUS was in the server's mechanism list (the connection is TLS)
 * @param selected       the client's SASLInitialResponse named SCRAM-SHA-256-PLUS
 * @param serverEndPoint the binding data, or null without TLS
 */
public record ChannelBinding(boolean offered, boolean selected, byte[] serverEndPoint) {
    /** The only channel binding type PostgreSQL (and so pgproxy) supports. */
    public static final String TLS_SERVER_END_POINT = "tls-server-end-point";
    /** A plaintext connection: nothing offered, nothing to bind to. */
    public static final ChannelBinding NONE = new ChannelBinding(false, false, null);

    public ChannelBinding {
        if (selected && !offered) {
            throw new IllegalArgumentException("SCRAM-SHA-256-PLUS selected but not offered");
        }
        if (offered) {
            Objects.requireNonNull(serverEndPoint, "serverEndPoint");
        }
        serverEndPoint = serverEndPoint == null ? null : serverEndPoint.clone();
    }

    @Override
    public byte[] serverEndPoint() {
        return serverEndPoint == null ? null : serverEndPoint.clone();
    }

    @Override
    public String toString() {
        return "ChannelBinding[offered=" + offered + ", selected=" + selected + "]";
    }
}
