package io.pgproxy.config;

import java.util.Objects;

/**
 * A database clients can ask for by {@code name}, and the backend it maps to. {@code user} is
 * {@code null} when the client's own user name is used on the backend; {@code password} is
 * {@code null} when the backend needs none. {@code clientTlsMode} tightens pgproxy.client-tls.mode
 * for the clients of this database; {@code null} leaves it.
 */
public record DatabaseConfig(String name,
                             String host,
                             int port,
                             String dbname,
                             String user,
                             String password,
                             int poolSize,
                             PoolMode mode,
                             ClientTlsMode clientTlsMode) {
    public DatabaseConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dbname, "dbname");
        Objects.requireNonNull(mode, "mode");
    }

    // The backend password is cleartext; toString ends up in logs and assertion messages.
    @Override
    public String toString() {
        return "DatabaseConfig[name=" + name + ", host=" + host + ", port=" + port + ", dbname=" + dbname
                + ", user=" + user + ", password=" + (password == null ? "null" : "<redacted>")
                + ", poolSize=" + poolSize + ", mode=" + mode + ", clientTlsMode=" + clientTlsMode + "]";
    }
}
