package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * ErrorResponse ('E'), also the shape of NoticeResponse. Fields are keyed by their one-byte
 * codes; a backend's error may lack fields (even the SQLSTATE), so accessors never throw.
 */
public record ErrorResponse(Map<Character, String> fields) {
    public static final char SEVERITY = 'S';
    public static final char SEVERITY_NONLOCALIZED = 'V';
    public static final char CODE = 'C';
    public static final char MESSAGE = 'M';
    public static final char DETAIL = 'D';
    public static final char HINT = 'H';

    public ErrorResponse {
        fields = Map.copyOf(fields);
    }

    public static ErrorResponse error(String sqlState, String message) {
        return of("ERROR", sqlState, message, null);
    }

    public static ErrorResponse fatal(String sqlState, String message) {
        return of("FATAL", sqlState, message, null);
    }

    public static ErrorResponse of(String severity, String sqlState, String message, String hint) {
        Map<Character, String> f = new LinkedHashMap<>();
        f.put(SEVERITY, severity);
        f.put(SEVERITY_NONLOCALIZED, severity);
        f.put(CODE, sqlState);
        f.put(MESSAGE, message);
        if (hint != null) {
            f.put(HINT, hint);
        }
        return new ErrorResponse(f);
    }

    public ErrorResponse withHint(String hint) {
        Map<Character, String> f = new LinkedHashMap<>(fields);
        f.put(HINT, hint);
        return new ErrorResponse(f);
    }

    public static ErrorResponse decode(ByteBuffer body) throws ProtocolException {
        Map<Character, String> f = new LinkedHashMap<>();
        while (body.hasRemaining()) {
            byte code = body.get();
            if (code == 0) {
                break;
            }
            f.put((char) (code & 0xFF), Wire.cstring(body));
        }
        return new ErrorResponse(f);
    }

    /** SQLSTATE, or XX000 (internal_error) when a broken backend sent none. */
    public String sqlState() {
        return fields.getOrDefault(CODE, "XX000");
    }

    public String severity() {
        return fields.getOrDefault(SEVERITY_NONLOCALIZED, fields.getOrDefault(SEVERITY, "ERROR"));
    }

    public String message() {
        return fields.getOrDefault(MESSAGE, "");
    }

    public boolean isFatal() {
        String s = severity();
        return s.equals("FATAL") || s.equals("PANIC");
    }

    public byte[] encode() {
        return encode((byte) 'E');
    }

    /** The same fields as a NoticeResponse ('N'): a warning the server may send at any time. */
    public byte[] encodeAsNotice() {
        return encode((byte) 'N');
    }

    private byte[] encode(byte tag) {
        MessageBuilder b = new MessageBuilder().begin(tag);
        // Severity first, as PostgreSQL does: some clients read it positionally.
        String[] order = {"S", "V", "C", "M", "D", "H"};
        for (String k : order) {
            String v = fields.get(k.charAt(0));
            if (v != null) {
                b.int8(k.charAt(0)).cstring(v);
            }
        }
        for (Map.Entry<Character, String> e : fields.entrySet()) {
            if ("SVCMDH".indexOf(e.getKey()) < 0) {
                b.int8(e.getKey()).cstring(e.getValue());
            }
        }
        return b.int8(0).end().toByteArray();
    }
}
