package io.pgproxy.pool;

import io.pgproxy.auth.ScramKeyStore;
import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.backend.BackendCredentials;
import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;

/**
 * Which credentials a backend login uses, in one place, in order: the database's password (a
 * fixed backend user's), the user's own backend-password, then, as the user's secret allows, the
 * SCRAM passthrough keys of its last SCRAM login or its md5 hash (PgBouncer's auth_file way).
 */
final class BackendLogins {
    private final ScramKeyStore scramKeys;

    BackendLogins(ScramKeyStore scramKeys) {
        this.scramKeys = scramKeys;
    }

    ScramKeyStore scramKeys() {
        return scramKeys;
    }

    /** Read at each connect, so keys from a login since the pool was made and a reloaded user both count. */
    BackendCredentials credentials(ProxyConfig config, DatabaseConfig database, String backendUser) {
        if (database.password() != null) {
            return BackendCredentials.password(database.password());
        }
        UserConfig user = config.users().get(backendUser);
        if (user == null) {
            return BackendCredentials.NONE;
        }
        if (user.backendPassword() != null) {
            return BackendCredentials.password(user.backendPassword());
        }
        return switch (user.auth()) {
            case SCRAM_SHA_256 -> new BackendCredentials(null, scramKeys.find(backendUser, ScramVerifier.parse(user.secret())), null);
            case MD5 -> new BackendCredentials(null, null, user.secret());
            case TRUST -> BackendCredentials.NONE;
        };
    }

    /** After a reload: keys of users gone or whose verifier changed are forgotten. */
    void reconfigure(ProxyConfig next) {
        scramKeys.retain(name -> {
            UserConfig u = next.users().get(name);
            return u != null && u.auth() == AuthMethod.SCRAM_SHA_256 ? ScramVerifier.parse(u.secret()) : null;
        });
    }
}
