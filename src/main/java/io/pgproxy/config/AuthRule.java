package io.pgproxy.config;

import java.net.InetAddress;
import java.util.Objects;
import java.util.Set;

/**
 * One line of pg_hba.conf for TCP clients: which connections it covers (transport, databases,
 * users, client address) and the method they must authenticate with. Rules are tried in order
 * and the first that covers a connection decides it, as in PostgreSQL.
 *
 * @param databases       database names, empty for {@code all}
 * @param users           user names, empty for {@code all}
 * @param address         the client address range, null for {@code all}
 * @param map             {@link AuthMethod#CERT} only: the ident map from certificate names to users, or null
 * @param allowWithoutTls {@link AuthMethod#PASSWORD} only: send the password in cleartext over plaintext too
 */
public record AuthRule(ConnectionType type, Set<String> databases, Set<String> users, Cidr address,
                       AuthMethod method, String map, boolean allowWithoutTls) {
    public AuthRule {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(method, "method");
        databases = Set.copyOf(databases);
        users = Set.copyOf(users);
    }

    /** Whether this rule decides a connection from {@code client} (over TLS or not) for {@code user}@{@code database}. */
    public boolean covers(String database, String user, InetAddress client, boolean tls) {
        return type.covers(tls)
                && (databases.isEmpty() || databases.contains(database))
                && (users.isEmpty() || users.contains(user))
                && (address == null || (client != null && address.contains(client)));
    }
}
