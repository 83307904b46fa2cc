package io.pgproxy.config;

import java.util.Objects;

/** Where the proxy accepts clients; port 0 asks the OS for an ephemeral port (tests). */
public record ListenConfig(String host, int port) {
    public ListenConfig {
        Objects.requireNonNull(host, "host");
    }
}
