package io.pgproxy.session;

import java.util.LinkedHashMap;

/**
 * The proxy-wide statements one backend connection has prepared, least recently used first.
 * Entries are added when their Parse is sent (so a pipeline that uses a statement right after
 * preparing it does not prepare it twice) and removed again if that Parse fails or is skipped.
 */
public final class BackendStatements {
    private final LinkedHashMap<String, Boolean> names = new LinkedHashMap<>(16, 0.75f, true);

    /** True (and marks it recently used) when the backend has {@code name} prepared. */
    public synchronized boolean use(String name) {
        return names.get(name) != null;
    }

    /**
     * Records {@code name} as prepared; returns the least recently used name to close first
     * when that keeps the backend within {@code capacity}, or null.
     */
    public synchronized String add(String name, int capacity) {
        names.put(name, Boolean.TRUE);
        if (names.size() > capacity) {
            String eldest = names.keySet().iterator().next();
            if (!eldest.equals(name)) {
                names.remove(eldest);
                return eldest;
            }
        }
        return null;
    }

    /** Records {@code name} as prepared again (its Close was skipped); no eviction. */
    public synchronized void restore(String name) {
        names.putIfAbsent(name, Boolean.TRUE);
    }

    public synchronized void remove(String name) {
        names.remove(name);
    }

    /** The backend deallocated everything (DISCARD ALL, DEALLOCATE ALL). */
    public synchronized void clear() {
        names.clear();
    }

    public synchronized int size() {
        return names.size();
    }
}
