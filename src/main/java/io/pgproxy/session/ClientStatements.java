package io.pgproxy.session;

import java.util.HashMap;
import java.util.Map;

/**
 * One client's named prepared statements: its own names mapped to proxy-wide statements.
 * Written by the client's thread; undone by a backend's reader when a Parse failed or was
 * skipped after an error, hence synchronized.
 */
public final class ClientStatements {
    private final StatementRegistry registry;
    private final Map<String, PreparedStatement> byName = new HashMap<>();

    public ClientStatements(StatementRegistry registry) {
        this.registry = registry;
    }

    public synchronized PreparedStatement get(String name) {
        return byName.get(name);
    }

    /** Records a Parse of {@code name}; the caller has checked the name is free. */
    public synchronized PreparedStatement define(String name, byte[] rest) {
        PreparedStatement s = registry.acquire(rest);
        byName.put(name, s);
        return s;
    }

    /** The statement for a Parse's text and types when a backend already accepted it, else null. */
    public PreparedStatement peekVerified(byte[] rest) {
        return registry.verified(rest);
    }

    /** Puts back a name whose Close the backend skipped (an error earlier in the pipeline). */
    public synchronized void redefine(String name, PreparedStatement statement) {
        if (!byName.containsKey(name)) {
            registry.retain(statement);
            byName.put(name, statement);
        }
    }

    /** Forgets {@code name}; returns what it named, or null. */
    public synchronized PreparedStatement close(String name) {
        PreparedStatement s = byName.remove(name);
        if (s != null) {
            registry.release(s);
        }
        return s;
    }

    /** Undoes a {@link #define} whose Parse never took effect, unless the name was reused since. */
    public synchronized void undefine(String name, PreparedStatement statement) {
        if (byName.get(name) == statement) {
            byName.remove(name);
            registry.release(statement);
        }
    }

    /** DEALLOCATE ALL, DISCARD ALL, or the client leaving. */
    public synchronized void clear() {
        byName.values().forEach(registry::release);
        byName.clear();
    }

    public synchronized int size() {
        return byName.size();
    }
}
