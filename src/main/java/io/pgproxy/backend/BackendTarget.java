package io.pgproxy.backend;

import java.time.Duration;

/**
 * Where and as whom to connect. The password is a secret: it is used for authentication only
 * and never printed.
 */
public record BackendTarget(String host, int port, String database, String user, String password,
                            Duration connectTimeout, int maxScramIterations) {
    @Override
    public String toString() {
        return user + "@" + host + ":" + port + "/" + database;
    }
}
