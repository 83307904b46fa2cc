package io.pgproxy.session;

import io.pgproxy.protocol.MessageBuilder;

/**
 * One distinct statement (query text and parameter types) under its proxy-wide name. The
 * Parse that prepares it on a backend is kept ready to send, so preparing on first use is a
 * copy, not an encoding.
 */
public final class PreparedStatement {
    /** Statement names starting with this belong to the proxy; client names never reach a backend as such. */
    public static final String NAME_PREFIX = "__pgproxy_";

    private final String name;
    private final byte[] cname;
    private final byte[] parseMessage;
    /** Some backend accepted its Parse: a client's Parse of it cannot fail for its text. */
    private volatile boolean verified;

    private PreparedStatement(String name, byte[] cname, byte[] parseMessage) {
        this.name = name;
        this.cname = cname;
        this.parseMessage = parseMessage;
    }

    static PreparedStatement of(String name, byte[] rest) {
        byte[] cname = new MessageBuilder().cstring(name).toByteArray();
        return new PreparedStatement(name, cname,
                new MessageBuilder().begin((byte) 'P').bytes(cname).bytes(rest).end().toByteArray());
    }

    /** The name backends know it by, {@code __pgproxy_<n>}. */
    public String name() {
        return name;
    }

    /** The name as a C string (NUL-terminated), as it goes into Bind, Describe and Close. */
    public byte[] cname() {
        return cname;
    }

    /** A whole Parse message: 'P', length, name, query, parameter types. */
    public byte[] parseMessage() {
        return parseMessage;
    }

    public boolean verified() {
        return verified;
    }

    /** A backend answered its Parse with ParseComplete. */
    public void verify() {
        verified = true;
    }

    @Override
    public String toString() {
        return name;
    }
}
