package io.pgproxy.config;

import java.util.Objects;

/**
 * A database clients can ask for by {@code name}, and the backend it maps to. {@code user} is
 * {@code null} when the client's own user name is used on the backend; {@code password} is
 * {@code null} when the backend needs none or each user's own credentials are used.
 * {@code clientTlsMode} tightens pgproxy.client-tls.mode for the clients of this database;
 * {@code null} leaves it. {@code tls} and {@code requireAuth} say how the proxy connects to the
 * backend and which methods the backend may ask for.
 */
public record DatabaseConfig(String name,
                             String host,
                             int port,
                             String dbname,
                             String user,
                             String password,
                             int poolSize,
                             PoolMode mode,
                             ClientTlsMode clientTlsMode,
                             BackendTls tls,
                             RequireAuth requireAuth) {
    public DatabaseConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(requireAuth, "requireAuth");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dbname, "dbname");
        Objects.requireNonNull(mode, "mode");
    }

    /** A database with the listener's client TLS, the default backend TLS (prefer) and require-auth (by TLS). */
    public DatabaseConfig(String name, String host, int port, String dbname, String user, String password,
                          int poolSize, PoolMode mode) {
        this(name, host, port, dbname, user, password, poolSize, mode, null, BackendTls.DEFAULT, RequireAuth.BY_TLS);
    }

    // The backend password is cleartext; toString ends up in logs and assertion messages.
    @Override
    public String toString() {
        return "DatabaseConfig[name=" + name + ", host=" + host + ", port=" + port + ", dbname=" + dbname
                + ", user=" + user + ", password=" + (password == null ? "null" : "<redacted>")
                + ", poolSize=" + poolSize + ", mode=" + mode + ", clientTlsMode=" + clientTlsMode + ", tls=" + tls
                + ", requireAuth=" + requireAuth.describe() + "]";
    }
}
