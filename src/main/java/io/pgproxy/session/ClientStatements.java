package io.pgproxy.session;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * One client's named prepared statements: its own names mapped to proxy-wide statements.
 * Written by the client's thread; undone by a backend's reader when a Parse failed or was
 * skipped after an error, hence synchronized. Each name remembers the stamp of its definition,
 * so a DEALLOCATE ALL forgets only the names defined before it in the client's stream.
 */
public final class ClientStatements {
    private record Defined(PreparedStatement statement, long stamp) {
    }

    private final StatementRegistry registry;
    private final Map<String, Defined> byName = new HashMap<>();

    public ClientStatements(StatementRegistry registry) {
        this.registry = registry;
    }

    public synchronized PreparedStatement get(String name) {
        Defined d = byName.get(name);
        return d != null ? d.statement() : null;
    }

    /** Records a Parse of {@code name}; the caller has checked the name is free. */
    public synchronized PreparedStatement define(String name, byte[] rest, long stamp) {
        PreparedStatement s = registry.acquire(rest);
        byName.put(name, new Defined(s, stamp));
        return s;
    }

    /** The statement for a Parse's text and types when a backend already accepted it, else null. */
    public PreparedStatement peekVerified(byte[] rest) {
        return registry.verified(rest);
    }

    /** Puts back a name whose Close the backend skipped (an error earlier in the pipeline). */
    public synchronized void redefine(String name, PreparedStatement statement, long stamp) {
        if (!byName.containsKey(name)) {
            registry.retain(statement);
            byName.put(name, new Defined(statement, stamp));
        }
    }

    /** Forgets {@code name}; returns what it named, or null. */
    public synchronized PreparedStatement close(String name) {
        Defined d = byName.remove(name);
        if (d == null) {
            return null;
        }
        registry.release(d.statement());
        return d.statement();
    }

    /** Undoes a {@link #define} whose Parse never took effect, unless the name was reused since. */
    public synchronized void undefine(String name, PreparedStatement statement) {
        Defined d = byName.get(name);
        if (d != null && d.statement() == statement) {
            byName.remove(name);
            registry.release(statement);
        }
    }

    /** DEALLOCATE ALL or DISCARD ALL: forgets the names defined before {@code stamp}. */
    public synchronized void clearBefore(long stamp) {
        for (Iterator<Defined> i = byName.values().iterator(); i.hasNext(); ) {
            Defined d = i.next();
            if (d.stamp() < stamp) {
                registry.release(d.statement());
                i.remove();
            }
        }
    }

    /** The client leaving. */
    public synchronized void clear() {
        clearBefore(Long.MAX_VALUE);
    }

    public synchronized int size() {
        return byName.size();
    }
}
