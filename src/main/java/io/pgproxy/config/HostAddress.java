package io.pgproxy.config;

import java.util.Objects;

/** One backend server of a database's cluster: where the proxy connects to it. */
public record HostAddress(String host, int port) {
    public HostAddress {
        Objects.requireNonNull(host, "host");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    /** {@code host:port}, or {@code [host]:port} for an IPv6 literal: how it is named in logs and admin commands. */
    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
