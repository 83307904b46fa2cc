package io.pgproxy.session;

import java.nio.charset.StandardCharsets;

/**
 * One distinct statement (query text and parameter types) under its proxy-wide name. The
 * Parse that prepares it on a backend is kept ready to send, so preparing on first use is a
 * copy, not an encoding.
 *
 * @param name         the name backends know it by, {@code __pgproxy_<n>}
 * @param cname        that name as a C string (NUL-terminated), as it goes into Bind, Describe and Close
 * @param parseMessage a whole Parse message ('P', length, name, query, parameter types)
 */
public record PreparedStatement(String name, byte[] cname, byte[] parseMessage) {
    /** Statement names starting with this belong to the proxy; client names never reach a backend as such. */
    public static final String NAME_PREFIX = "__pgproxy_";

    static PreparedStatement of(String name, byte[] rest) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] cname = java.util.Arrays.copyOf(n, n.length + 1);
        int length = 4 + cname.length + rest.length;
        java.nio.ByteBuffer m = java.nio.ByteBuffer.allocate(1 + length);
        m.put((byte) 'P').putInt(length).put(cname).put(rest);
        return new PreparedStatement(name, cname, m.array());
    }
}
