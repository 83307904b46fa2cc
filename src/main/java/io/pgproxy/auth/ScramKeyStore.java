package io.pgproxy.auth;

import java.util.Map;
import java.util.function.Function;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The SCRAM passthrough keys of the users who logged in to the proxy with SCRAM, one per user and
 * verifier: the pools that log in to backends as those users use them for every later connection.
 * A changed verifier (a reload) makes the old keys unreachable; they are replaced at the user's
 * next login. Memory only, never written or logged.
 */
public final class ScramKeyStore {
    private final Map<String, ScramKeys> byUser = new ConcurrentHashMap<>();

    /** Remembers what {@code user}'s successful SCRAM proof revealed. */
    public void remember(String user, ScramKeys keys) {
        byUser.put(user, keys);
    }

    /**
     * Forgets the keys of users that are gone or whose verifier changed: {@code verifiers} gives a
     * user's current verifier, or null. Run at each reload, so no key outlives its configuration.
     */
    public void retain(Function<String, ScramVerifier> verifiers) {
        byUser.entrySet().removeIf(e -> {
            ScramVerifier current = verifiers.apply(e.getKey());
            return current == null || !e.getValue().matches(current);
        });
    }

    /** The keys of {@code user} for {@code verifier}, or null when the user has not logged in with it. */
    public ScramKeys find(String user, ScramVerifier verifier) {
        ScramKeys k = byUser.get(user);
        return k != null && k.matches(verifier) ? k : null;
    }
}
