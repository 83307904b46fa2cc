package io.pgproxy.protocol;

/** Tags of the messages a backend sends. Separate from {@link FrontendTag}: same bytes, other meanings. */
public enum BackendTag {
    AUTHENTICATION('R'), BACKEND_KEY_DATA('K'), BIND_COMPLETE('2'), CLOSE_COMPLETE('3'),
    COMMAND_COMPLETE('C'), COPY_DATA('d'), COPY_DONE('c'), COPY_IN_RESPONSE('G'),
    COPY_OUT_RESPONSE('H'), COPY_BOTH_RESPONSE('W'), DATA_ROW('D'), EMPTY_QUERY_RESPONSE('I'),
    ERROR_RESPONSE('E'), FUNCTION_CALL_RESPONSE('V'), NEGOTIATE_PROTOCOL_VERSION('v'),
    NO_DATA('n'), NOTICE_RESPONSE('N'), NOTIFICATION_RESPONSE('A'),
    PARAMETER_DESCRIPTION('t'), PARAMETER_STATUS('S'), PARSE_COMPLETE('1'),
    PORTAL_SUSPENDED('s'), READY_FOR_QUERY('Z'), ROW_DESCRIPTION('T');

    private static final BackendTag[] BY_BYTE = new BackendTag[256];

    static {
        for (BackendTag t : values()) {
            BY_BYTE[t.code] = t;
        }
    }

    private final byte code;

    BackendTag(char code) {
        this.code = (byte) code;
    }

    public byte code() {
        return code;
    }

    /** The tag for a byte, or null when no backend message has that tag. */
    public static BackendTag of(byte b) {
        return BY_BYTE[b & 0xFF];
    }
}
