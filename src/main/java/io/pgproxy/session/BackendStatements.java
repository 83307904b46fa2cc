package io.pgproxy.session;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.LinkedHashMap;

/**
 * The proxy-wide statements one backend connection has prepared, least recently used first.
 * Entries are added when their Parse is sent (so a pipeline that uses a statement right after
 * preparing it does not prepare it twice) and removed again if that Parse fails or is skipped.
 * Each remembers the stamp of its sending, so a DEALLOCATE ALL forgets only what it deallocated.
 */
public final class BackendStatements {
    private final LinkedHashMap<String, Long> names = new LinkedHashMap<>(16, 0.75f, true);
    /** Names that may or may not be prepared (a Close of them was skipped): closed before the next Parse. */
    private final Set<String> doubtful = new HashSet<>();

    /** True (and marks it recently used) when the backend surely has {@code name} prepared. */
    public synchronized boolean use(String name) {
        return names.get(name) != null && !doubtful.contains(name);
    }

    /** True when the backend may have {@code name} prepared: a Parse of it must be preceded by a Close. */
    public synchronized boolean mayHold(String name) {
        return names.containsKey(name);
    }

    /** The backend may or may not hold {@code name}. */
    public synchronized void doubt(String name, long stamp) {
        names.putIfAbsent(name, stamp);
        doubtful.add(name);
    }

    /**
     * Records {@code name} as prepared; returns the least recently used names to close first
     * so the backend stays within {@code capacity} (none when it does already).
     */
    public synchronized List<String> add(String name, int capacity, long stamp) {
        names.put(name, stamp);
        doubtful.remove(name);
        List<String> evicted = List.of();
        Iterator<String> eldest = names.keySet().iterator();
        while (names.size() > capacity && eldest.hasNext()) {
            String e = eldest.next();
            if (!e.equals(name)) {
                eldest.remove();
                doubtful.remove(e);
                if (evicted.isEmpty()) {
                    evicted = new ArrayList<>(2);
                }
                evicted.add(e);
            }
        }
        return evicted;
    }

    public synchronized void remove(String name) {
        names.remove(name);
        doubtful.remove(name);
    }

    /** The backend deallocated everything sent before {@code stamp} (DISCARD ALL, DEALLOCATE ALL). */
    public synchronized void clearBefore(long stamp) {
        for (Iterator<Long> i = names.values().iterator(); i.hasNext(); ) {
            if (i.next() < stamp) {
                i.remove();
            }
        }
        doubtful.retainAll(names.keySet());
    }

    /** The backend deallocated everything (a reset). */
    public synchronized void clear() {
        names.clear();
        doubtful.clear();
    }

    public synchronized int size() {
        return names.size();
    }
}
