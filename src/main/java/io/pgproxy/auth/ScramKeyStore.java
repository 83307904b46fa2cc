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
     * Forgets the keys of configured users whose verifier changed or who are no SCRAM users any
     * more: {@code verifiers} gives a configured user's current verifier, or null, and says
     * nothing of the others (users the auth query found), whose keys stay. Run at each reload.
     */
    public void retain(Function<String, java.util.Optional<ScramVerifier>> verifiers) {
        byUser.entrySet().removeIf(e -> {
            java.util.Optional<ScramVerifier> current = verifiers.apply(e.getKey());
            return current != null && (current.isEmpty() || !e.getValue().matches(current.get()));
        });
    }

    /**
     * The keys {@code user} last logged in with, whichever verifier they answer: for a user the
     * auth query found, whose verifier is the backend's own. Null when none.
     */
    public ScramKeys latest(String user) {
        return byUser.get(user);
    }

    /** The keys of {@code user} for {@code verifier}, or null when the user has not logged in with it. */
    public ScramKeys find(String user, ScramVerifier verifier) {
        ScramKeys k = byUser.get(user);
        return k != null && k.matches(verifier) ? k : null;
    }
}
