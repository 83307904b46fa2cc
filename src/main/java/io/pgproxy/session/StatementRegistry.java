package io.pgproxy.session;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The proxy-wide names of distinct statements. Clients that parse the same text with the same
 * parameter types share one name, so a backend prepares it once whichever client asks. An entry
 * lives while some client holds a name for it; backends may keep their copy longer, under their
 * own LRU bound.
 */
public final class StatementRegistry {
    private final ConcurrentHashMap<Key, Entry> statements = new ConcurrentHashMap<>();
    private final AtomicLong names = new AtomicLong();
    private final ReplyClock clock = new ReplyClock();

    /** The server's reply clock: stamps statement definitions in the order of the reply stream. */
    public ReplyClock clock() {
        return clock;
    }

    /** The text and types of a Parse body after its statement name: query\0 int16 n, int32 oids. */
    private record Key(byte[] rest, int hash) {
        static Key of(byte[] rest) {
            return new Key(rest, Arrays.hashCode(rest));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.hash == hash && Arrays.equals(k.rest, rest);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    private static final class Entry {
        final PreparedStatement statement;
        int references;

        Entry(PreparedStatement statement) {
            this.statement = statement;
        }
    }

    /**
     * The statement for a Parse body's text and types ({@code rest}: everything after the
     * statement name), taking one reference to it.
     */
    public PreparedStatement acquire(byte[] rest) {
        Entry e = statements.compute(Key.of(rest), (k, old) -> {
            Entry n = old != null ? old : new Entry(newStatement(k.rest));
            n.references++;
            return n;
        });
        return e.statement;
    }

    /** The statement for this text and types if some backend has accepted it, else null; no reference taken. */
    public PreparedStatement verified(byte[] rest) {
        Entry e = statements.get(Key.of(rest));
        return e != null && e.statement.verified() ? e.statement : null;
    }

    /** Takes another reference to a statement some client already holds. */
    void retain(PreparedStatement statement) {
        byte[] message = statement.parseMessage();
        Key key = Key.of(Arrays.copyOfRange(message, 5 + statement.cname().length, message.length));
        statements.compute(key, (k, e) -> {
            if (e == null) {
                e = new Entry(statement);
            }
            if (e.statement == statement) {
                e.references++;
            }
            return e;
        });
    }

    /** Drops one reference; the name is forgotten when no client holds it. */
    public void release(PreparedStatement statement) {
        byte[] message = statement.parseMessage();
        int nameEnd = 5 + statement.cname().length;
        Key key = Key.of(Arrays.copyOfRange(message, nameEnd, message.length));
        statements.computeIfPresent(key, (k, e) -> {
            if (e.statement != statement) {
                return e;
            }
            return --e.references <= 0 ? null : e;
        });
    }

    /** Distinct statements some client holds a name for. */
    public int size() {
        return statements.size();
    }

    private PreparedStatement newStatement(byte[] rest) {
        return PreparedStatement.of(PreparedStatement.NAME_PREFIX + names.incrementAndGet(), rest);
    }
}
