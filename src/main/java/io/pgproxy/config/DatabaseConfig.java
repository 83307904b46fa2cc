package io.pgproxy.config;

import java.util.List;
import java.util.Objects;

/**
 * A database clients can ask for by {@code name}, and the backend cluster it maps to:
 * {@code hosts} in the configured order (one for a single server; a primary and standbys for
 * a cluster, whose primary the proxy learns from the servers). {@code user} is
 * {@code null} when the client's own user name is used on the backend; {@code password} is
 * {@code null} when the backend needs none or each user's own credentials are used.
 * {@code clientTlsMode} tightens pgproxy.client-tls.mode for the clients of this database;
 * {@code null} leaves it. {@code tls} and {@code requireAuth} say how the proxy connects to the
 * backend and which methods the backend may ask for; {@code targetSessionAttrs} which hosts of
 * the cluster its backends are on; {@code transactionReplay} whether a transaction whose backend
 * dies before COMMIT is run again on another (transaction pooling only).
 */
public record DatabaseConfig(String name,
                             List<HostAddress> hosts,
                             String dbname,
                             String user,
                             String password,
                             int poolSize,
                             PoolMode mode,
                             ClientTlsMode clientTlsMode,
                             BackendTls tls,
                             RequireAuth requireAuth,
                             TargetSessionAttrs targetSessionAttrs,
                             boolean transactionReplay) {
    public DatabaseConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(requireAuth, "requireAuth");
        Objects.requireNonNull(targetSessionAttrs, "targetSessionAttrs");
        hosts = List.copyOf(Objects.requireNonNull(hosts, "hosts"));
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException("a database needs a host");
        }
        Objects.requireNonNull(dbname, "dbname");
        Objects.requireNonNull(mode, "mode");
    }

    /** A database with the listener's client TLS, the default backend TLS (prefer) and require-auth (by TLS). */
    public DatabaseConfig(String name, String host, int port, String dbname, String user, String password,
                          int poolSize, PoolMode mode) {
        this(name, List.of(new HostAddress(host, port)), dbname, user, password, poolSize, mode, null, BackendTls.DEFAULT, RequireAuth.BY_TLS,
                TargetSessionAttrs.READ_WRITE, false);
    }

    /** The first configured host: the primary until the servers say otherwise. */
    public String host() {
        return hosts.getFirst().host();
    }

    public int port() {
        return hosts.getFirst().port();
    }

    /** More than one host: the proxy watches them and follows the primary. */
    public boolean isCluster() {
        return hosts.size() > 1;
    }

    /** This database on other hosts. */
    public DatabaseConfig withHosts(List<HostAddress> next) {
        return new DatabaseConfig(name, next, dbname, user, password, poolSize, mode, clientTlsMode, tls, requireAuth,
                targetSessionAttrs, transactionReplay);
    }

    // The backend password is cleartext; toString ends up in logs and assertion messages.
    @Override
    public String toString() {
        return "DatabaseConfig[name=" + name + ", hosts=" + hosts + ", dbname=" + dbname
                + ", user=" + user + ", password=" + (password == null ? "null" : "<redacted>")
                + ", poolSize=" + poolSize + ", mode=" + mode + ", clientTlsMode=" + clientTlsMode + ", tls=" + tls
                + ", requireAuth=" + requireAuth.describe() + ", targetSessionAttrs=" + targetSessionAttrs.configName()
                + ", transactionReplay=" + transactionReplay + "]";
    }
}
