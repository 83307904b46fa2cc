package io.pgproxy.auth;

import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The users' SCRAM-SHA-256 verifiers, parsed once per configuration snapshot instead of once
 * per login. Entries belong to the snapshot they were parsed from: a reload brings a new
 * snapshot, and with it an empty cache, so a changed or removed password is never served.
 */
public final class ScramVerifierCache {
    private record Generation(ProxyConfig config, ConcurrentHashMap<String, ScramVerifier> byUser) {
    }

    private volatile Generation current = new Generation(null, new ConcurrentHashMap<>());

    /** The parsed verifier of {@code user}, a user of {@code config}. */
    public ScramVerifier verifier(ProxyConfig config, UserConfig user) {
        Generation g = current;
        if (g.config() != config) {
            // A login still on the old snapshot may swap the old one back in: it then only costs a
            // parse, since each generation answers for its own snapshot alone.
            g = new Generation(config, new ConcurrentHashMap<>());
            current = g;
        }
        return g.byUser().computeIfAbsent(user.name(), name -> ScramVerifier.parse(user.secret()));
    }
}
