package io.pgproxy.config;

import java.time.Duration;
import java.util.Objects;

/**
 * PgBouncer's auth_user / auth_query / auth_dbname: users missing from {@code pgproxy.users} are
 * looked up on the backend by a low-privilege role, and the answer is kept for {@code cacheTtl}.
 *
 * @param authUser       the backend role that runs the query
 * @param authPassword   its password, or null (a secret: never printed)
 * @param query          the lookup; {@code $1} is the user name; answers (name, secret) or no row
 * @param authDbname     the client database (a key of {@code pgproxy.databases}) whose backend
 *                       runs the query, or null for the database the client asked for
 * @param cacheTtl       how long an answer, found or not, is reused
 * @param maxCachedUsers most answers kept at once, bounding what name probes can make the proxy hold
 */
public record AuthQueryConfig(String authUser, String authPassword, String query, String authDbname,
                              Duration cacheTtl, int maxCachedUsers) {
    public AuthQueryConfig {
        Objects.requireNonNull(authUser, "authUser");
        Objects.requireNonNull(query, "query");
        Objects.requireNonNull(cacheTtl, "cacheTtl");
    }

    @Override
    public String toString() {
        return "AuthQueryConfig[authUser=" + authUser + ", authPassword=" + (authPassword == null ? "null" : "<redacted>")
                + ", query=" + query + ", authDbname=" + authDbname + ", cacheTtl=" + cacheTtl
                + ", maxCachedUsers=" + maxCachedUsers + "]";
    }
}
