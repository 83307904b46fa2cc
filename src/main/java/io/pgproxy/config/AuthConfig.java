package io.pgproxy.config;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * How clients authenticate: the ordered {@code hba} rules (none: each user's own method, as
 * before rules existed), the ident maps certificate rules name, and the auth query (null: off).
 *
 * @param identMaps map name → system user name (a certificate CN) → the users it may log in as
 */
public record AuthConfig(List<AuthRule> rules, Map<String, Map<String, Set<String>>> identMaps,
                         AuthQueryConfig authQuery) {
    public static final AuthConfig NONE = new AuthConfig(List.of(), Map.of(), null);

    public AuthConfig {
        rules = List.copyOf(rules);
        identMaps = Map.copyOf(Objects.requireNonNull(identMaps, "identMaps"));
    }

    /** The first rule covering the connection, or null: then no rule allows it. Call only with rules configured. */
    public AuthRule firstMatch(String database, String user, InetAddress client, boolean tls) {
        for (AuthRule r : rules) {
            if (r.covers(database, user, client, tls)) {
                return r;
            }
        }
        return null;
    }

    /** Whether {@code systemUser} (a certificate's CN) may log in as {@code user} under ident map {@code map}. */
    public boolean identMapAllows(String map, String systemUser, String user) {
        Map<String, Set<String>> m = identMaps.get(map);
        Set<String> users = m == null ? null : m.get(systemUser);
        return users != null && users.contains(user);
    }
}
