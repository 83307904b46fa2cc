package io.pgproxy.admin;

import io.pgproxy.protocol.MessageBuilder;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One SHOW answer: RowDescription, DataRows and CommandComplete, in the text format. Column types
 * are PgBouncer's, so clients that read its console by type (pgbouncer_exporter, pgjdbc's
 * getInt) read this one the same way.
 */
final class Result {
    /** A column's type: its OID and length as RowDescription reports them. */
    enum Type {
        TEXT(25, -1), INT4(23, 4), INT8(20, 8), NUMERIC(1700, -1);

        final int oid;
        final int length;

        Type(int oid, int length) {
            this.oid = oid;
            this.length = length;
        }
    }

    record Column(String name, Type type) {
    }

    static Column text(String name) {
        return new Column(name, Type.TEXT);
    }

    static Column int4(String name) {
        return new Column(name, Type.INT4);
    }

    static Column int8(String name) {
        return new Column(name, Type.INT8);
    }

    static Column numeric(String name) {
        return new Column(name, Type.NUMERIC);
    }

    private final List<Column> columns;
    private final List<Object[]> rows = new ArrayList<>();

    Result(List<Column> columns) {
        this.columns = List.copyOf(columns);
    }

    Result(Column... columns) {
        this(List.of(columns));
    }

    /** Adds a row; values print with toString, null is SQL NULL. */
    Result row(Object... values) {
        if (values.length != columns.size()) {
            throw new IllegalArgumentException(values.length + " values for " + columns.size() + " columns");
        }
        rows.add(values);
        return this;
    }

    int size() {
        return rows.size();
    }

    /** The messages of the answer, ending with CommandComplete {@code tag}. */
    byte[] encode(String tag) {
        MessageBuilder m = new MessageBuilder();
        m.begin((byte) 'T').int16(columns.size());
        for (Column c : columns) {
            m.cstring(c.name()).int32(0).int16(0).int32(c.type().oid).int16(c.type().length).int32(-1).int16(0);
        }
        m.end();
        for (Object[] row : rows) {
            m.begin((byte) 'D').int16(row.length);
            for (Object v : row) {
                if (v == null) {
                    m.int32(-1);
                } else {
                    byte[] b = v.toString().getBytes(StandardCharsets.UTF_8);
                    m.int32(b.length).bytes(b);
                }
            }
            m.end();
        }
        m.begin((byte) 'C').cstring(tag).end();
        return m.toByteArray();
    }
}
