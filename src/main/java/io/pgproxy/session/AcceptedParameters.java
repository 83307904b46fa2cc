package io.pgproxy.session;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The sets of startup parameter values one pool's backends have accepted. A client whose
 * startup values are among them has its first sync batch sent ahead of its first request, like
 * a client whose values a backend has already taken; any other waits for its batch's answer, so
 * a value the server refuses fails the request before it is sent. Bounded: past the bound new
 * sets are not remembered, and their clients pay the round trip.
 */
public final class AcceptedParameters {
    private final int limit;
    private final Set<Map<String, String>> accepted = ConcurrentHashMap.newKeySet();

    public AcceptedParameters(int limit) {
        this.limit = limit;
    }

    public boolean contains(Map<String, String> startup) {
        return accepted.contains(startup);
    }

    public void add(Map<String, String> startup) {
        if (accepted.size() < limit) {
            accepted.add(startup);
        }
    }
}
