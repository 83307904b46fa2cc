package io.pgproxy.protocol;

/**
 * Tags of the messages a client (frontend) sends after startup. The same byte means something
 * else from the backend, hence a separate type per direction.
 */
public enum FrontendTag {
    BIND('B'), CLOSE('C'), COPY_DATA('d'), COPY_DONE('c'), COPY_FAIL('f'), DESCRIBE('D'),
    EXECUTE('E'), FLUSH('H'), FUNCTION_CALL('F'), PARSE('P'), PASSWORD_MESSAGE('p'), QUERY('Q'),
    SYNC('S'), TERMINATE('X');

    private static final FrontendTag[] BY_BYTE = new FrontendTag[256];

    static {
        for (FrontendTag t : values()) {
            BY_BYTE[t.code] = t;
        }
    }

    private final byte code;

    FrontendTag(char code) {
        this.code = (byte) code;
    }

    public byte code() {
        return code;
    }

    /** The tag for a byte, or null when no frontend message has that tag. */
    public static FrontendTag of(byte b) {
        return BY_BYTE[b & 0xFF];
    }

    /** Messages after which the backend owes exactly one ReadyForQuery. */
    public boolean expectsReadyForQuery() {
        return this == QUERY || this == SYNC || this == FUNCTION_CALL;
    }
}
