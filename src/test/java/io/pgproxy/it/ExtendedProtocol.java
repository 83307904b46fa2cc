package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.StringJoiner;

/**
 * Extended-query frontend messages for raw-wire tests, and a reader that knows how many backend messages
 * each frontend message produces, so a test can read exactly one batch's answer (also a batch ending in
 * Flush, which has no ReadyForQuery to wait for) and compare it with a direct PostgreSQL connection.
 */
final class ExtendedProtocol {

    static final int INT4 = 23;
    static final int TEXT = 25;

    private ExtendedProtocol() {
    }

    /** One frontend message: its tag, its bytes on the wire, and a readable form for failure messages. */
    record Fe(char tag, byte[] bytes, String text) {
        /** Parse, Bind, Describe, Execute and Close: after an error in one of these the backend skips to Sync. */
        boolean extended() {
            return tag == 'P' || tag == 'B' || tag == 'D' || tag == 'E' || tag == 'C';
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /**
     * One backend message reduced to what must be equal through the proxy: for ErrorResponse only the
     * SQLSTATE (the proxy may name its own statement in the text), for the others a readable decoding of
     * the whole body.
     */
    record Be(char tag, String detail) {
        @Override
        public String toString() {
            return detail.isEmpty() ? String.valueOf(tag) : tag + " " + detail;
        }
    }

    // ------------------------------------------------------------------ frontend messages

    static Fe parse(String name, String sql, int... paramTypes) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        cstr(b, name);
        cstr(b, sql);
        int16(b, paramTypes.length);
        for (int t : paramTypes) int32(b, t);
        StringJoiner types = new StringJoiner(",", "[", "]");
        for (int t : paramTypes) types.add(String.valueOf(t));
        return new Fe('P', PgWire.frame('P', b.toByteArray()),
                "Parse(" + quoted(name) + ", " + sql + (paramTypes.length > 0 ? ", " + types : "") + ")");
    }

    /** Bind with text parameters ({@code null} is SQL NULL) and text results. */
    static Fe bind(String portal, String statement, String... params) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        cstr(b, portal);
        cstr(b, statement);
        int16(b, 0);
        int16(b, params.length);
        StringJoiner shown = new StringJoiner(", ", "[", "]");
        for (String p : params) {
            if (p == null) {
                int32(b, -1);
                shown.add("NULL");
            } else {
                byte[] v = p.getBytes(StandardCharsets.UTF_8);
                int32(b, v.length);
                b.writeBytes(v);
                shown.add(quoted(p));
            }
        }
        int16(b, 0);
        return new Fe('B', PgWire.frame('B', b.toByteArray()),
                "Bind(" + quoted(portal) + ", " + quoted(statement) + ", " + shown + ")");
    }

    static Fe describeStatement(String name) {
        return describe('S', name);
    }

    static Fe describePortal(String name) {
        return describe('P', name);
    }

    private static Fe describe(char kind, String name) {
        return kindAndName('D', "Describe", kind, name);
    }

    /** Describe and Close: a message of a kind byte ('S' or 'P') and a name. */
    private static Fe kindAndName(char tag, String label, char kind, String name) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(kind);
        cstr(b, name);
        return new Fe(tag, PgWire.frame(tag, b.toByteArray()), label + kind + "(" + quoted(name) + ")");
    }

    static Fe execute(String portal, int maxRows) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        cstr(b, portal);
        int32(b, maxRows);
        return new Fe('E', PgWire.frame('E', b.toByteArray()),
                "Execute(" + quoted(portal) + (maxRows > 0 ? ", " + maxRows : "") + ")");
    }

    static Fe closeStatement(String name) {
        return close('S', name);
    }

    static Fe closePortal(String name) {
        return close('P', name);
    }

    private static Fe close(char kind, String name) {
        return kindAndName('C', "Close", kind, name);
    }

    static Fe sync() {
        return new Fe('S', PgWire.frame('S', new byte[0]), "Sync");
    }

    static Fe flush() {
        return new Fe('H', PgWire.frame('H', new byte[0]), "Flush");
    }

    static Fe query(String sql) {
        return new Fe('Q', PgWire.query(sql), "Query(" + sql + ")");
    }

    // ------------------------------------------------------------------ reading answers

    /**
     * One connection's side of the conversation. It remembers whether the backend is skipping to Sync, as
     * it still is at the start of a batch when the previous batch ended in Flush after an error.
     */
    static final class Conversation implements AutoCloseable {
        private final PgWire wire;
        private boolean skipping;

        Conversation(PgWire wire) {
            this.wire = wire;
        }

        PgWire wire() {
            return wire;
        }

        /**
         * Writes the batch in one write and reads exactly its answer, following PostgreSQL's rules: every
         * message that is processed answers at least once (Execute: rows, then CommandComplete,
         * PortalSuspended or EmptyQueryResponse; Describe statement: ParameterDescription, then
         * RowDescription or NoData; Query: up to ReadyForQuery; Sync: ReadyForQuery; Flush: nothing), and
         * after an ErrorResponse to an extended message everything up to the next Sync is skipped without an
         * answer. Notices and ParameterStatus are left out. A read that times out throws, so a withheld
         * answer fails the test.
         */
        List<Be> exchange(List<Fe> batch) throws IOException {
            byte[][] bytes = new byte[batch.size()][];
            for (int i = 0; i < batch.size(); i++) bytes[i] = batch.get(i).bytes();
            wire.write(bytes);
            List<Be> got = new ArrayList<>();
            for (Fe fe : batch) {
                if (fe.tag() == 'H') continue;
                if (fe.tag() == 'S') {
                    expect(got, read(wire, got), 'Z');
                    skipping = false;
                    continue;
                }
                if (skipping) continue;
                Be first = read(wire, got);
                switch (fe.tag()) {
                    case 'Q' -> {
                        for (Be m = first; m.tag() != 'Z'; m = read(wire, got)) {
                            // a Query's answer always ends with ReadyForQuery, errors included
                        }
                    }
                    case 'E' -> {
                        for (Be m = first; m.tag() == 'D'; m = read(wire, got)) {
                            // rows until CommandComplete, PortalSuspended, EmptyQueryResponse or an error
                        }
                    }
                    case 'D' -> {
                        if (first.tag() == 't') read(wire, got);
                    }
                    default -> {
                        // Parse, Bind, Close: one message
                    }
                }
                if (fe.extended() && got.getLast().tag() == 'E') skipping = true;
            }
            return got;
        }

        List<Be> exchange(Fe... batch) throws IOException {
            return exchange(List.of(batch));
        }

        @Override
        public void close() throws IOException {
            wire.close();
        }
    }

    /** Reads exactly {@code count} messages (notices and ParameterStatus not counted). */
    static List<Be> read(PgWire wire, int count) throws IOException {
        List<Be> got = new ArrayList<>();
        while (got.size() < count) read(wire, got);
        return got;
    }

    private static Be read(PgWire wire, List<Be> got) throws IOException {
        while (true) {
            PgWire.Message m;
            try {
                m = wire.readMessage();
            } catch (SocketTimeoutException e) {
                throw new SocketTimeoutException("no further answer after " + got);
            }
            if (m == null) throw new EOFException("connection closed after " + got);
            if (m.tag() == 'N' || m.tag() == 'S') continue;
            Be be = reduce(m);
            got.add(be);
            return be;
        }
    }

    private static void expect(List<Be> got, Be m, char tag) throws IOException {
        if (m.tag() != tag) throw new IOException("expected '" + tag + "' but got " + got);
    }

    static Be reduce(PgWire.Message m) {
        ByteBuffer b = m.buffer();
        String detail = switch (m.tag()) {
            case 'E' -> PgWire.fields(m.body()).get('C');
            case 'Z' -> String.valueOf((char) b.get());
            case 'C' -> PgWire.cstring(b);
            case '1', '2', '3', 'n', 's', 'I' -> m.body().length == 0 ? "" : HexFormat.of().formatHex(m.body());
            case 'D' -> {
                StringJoiner row = new StringJoiner(", ", "[", "]");
                for (int i = b.getShort(); i > 0; i--) {
                    int len = b.getInt();
                    if (len < 0) {
                        row.add("NULL");
                    } else {
                        byte[] v = new byte[len];
                        b.get(v);
                        row.add(quoted(new String(v, StandardCharsets.UTF_8)));
                    }
                }
                yield row.toString();
            }
            case 'T' -> {
                StringJoiner cols = new StringJoiner(", ", "[", "]");
                for (int i = b.getShort(); i > 0; i--) {
                    String name = PgWire.cstring(b);
                    int table = b.getInt();
                    short column = b.getShort();
                    int type = b.getInt();
                    short size = b.getShort();
                    int modifier = b.getInt();
                    short format = b.getShort();
                    cols.add(name + ":" + type + "/" + table + "/" + column + "/" + size + "/" + modifier + "/" + format);
                }
                yield cols.toString();
            }
            case 't' -> {
                StringJoiner types = new StringJoiner(", ", "[", "]");
                for (int i = b.getShort(); i > 0; i--) types.add(String.valueOf(b.getInt()));
                yield types.toString();
            }
            default -> HexFormat.of().formatHex(m.body());
        };
        return new Be(m.tag(), detail);
    }

    /** The concatenated tags, e.g. "12DCZ": short expectations for the obvious cases. */
    static String tags(List<Be> messages) {
        StringBuilder b = new StringBuilder();
        for (Be m : messages) b.append(m.tag());
        return b.toString();
    }

    /** Index of the first message where the lists differ (or the shorter length), -1 if equal. */
    static int firstDifference(List<Be> expected, List<Be> actual) {
        for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
            if (!expected.get(i).equals(actual.get(i))) return i;
        }
        return expected.size() == actual.size() ? -1 : Math.min(expected.size(), actual.size());
    }

    // ------------------------------------------------------------------ encoding

    private static String quoted(String s) {
        return "'" + s + "'";
    }

    private static void cstr(ByteArrayOutputStream b, String s) {
        b.writeBytes(s.getBytes(StandardCharsets.UTF_8));
        b.write(0);
    }

    private static void int16(ByteArrayOutputStream b, int v) {
        b.write(v >>> 8);
        b.write(v);
    }

    private static void int32(ByteArrayOutputStream b, int v) {
        b.writeBytes(PgWire.ints(v));
    }
}
