package io.pgproxy.pool;

import io.pgproxy.auth.ScramKeyStore;
import io.pgproxy.auth.ScramKeys;
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
            // A user the auth query found: the keys of its last SCRAM login, made with the backend's own verifier.
            ScramKeys keys = scramKeys.latest(backendUser);
            return keys == null ? BackendCredentials.NONE : new BackendCredentials(null, keys, null);
        }
        if (user.backendPassword() != null) {
            return BackendCredentials.password(user.backendPassword());
        }
        return switch (user.auth()) {
            case SCRAM_SHA_256 -> new BackendCredentials(null, scramKeys.find(backendUser, ScramVerifier.parse(user.secret())), null);
            case MD5 -> new BackendCredentials(null, null, user.secret());
            // Only scram-sha-256, md5 and trust are a user's own methods; the rest live in hba rules.
            case TRUST, REJECT, PASSWORD, SCRAM_SHA_256_PLUS, CERT -> BackendCredentials.NONE;
        };
    }

    /** After a reload: keys of users gone or whose verifier changed are forgotten. */
    void reconfigure(ProxyConfig next) {
        scramKeys.retain(name -> {
            UserConfig u = next.users().get(name);
            if (u == null) {
                return null; // not configured: the auth query's, kept
            }
            return u.auth() == AuthMethod.SCRAM_SHA_256 ? java.util.Optional.of(ScramVerifier.parse(u.secret()))
                    : java.util.Optional.empty();
        });
    }
}
