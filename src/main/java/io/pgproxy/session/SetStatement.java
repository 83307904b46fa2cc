package io.pgproxy.session;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Recognises the plain session-level assignment {@code SET [SESSION] name = value} (or
 * {@code TO value}) with a single literal value: the form drivers send at connect time
 * (pgjdbc's {@code SET extra_float_digits = 3}). Such a SET can be replayed on another backend
 * with {@code set_config}, so it need not pin the client. Anything else (lists, LOCAL, ROLE,
 * TIME ZONE, expressions) is not recognised and, if it sets an unreported parameter, pins.
 */
public final class SetStatement {
    /** Statements longer than this are not looked at. */
    private static final int MAX_LENGTH = 512;
    private static final Pattern ASSIGNMENT = Pattern.compile(
            "(?is)\\s*SET\\s+(?:SESSION\\s+)?([a-z_][a-z0-9_.$]*)\\s*(?:=|\\s+TO\\s+)\\s*"
                    + "('(?:[^'\\\\])*'|[a-z0-9_.+-]+)\\s*;?\\s*");
    private static final Set<String> NOT_PARAMETERS = Set.of("local", "session", "role", "transaction",
            "constraints", "time", "names");

    /** A parameter name and the value a SET gives it. */
    public record Assignment(String name, String value) {
    }

    private SetStatement() {
    }

    /** The assignment in a statement text, or null when it is not a plain SET. */
    public static Assignment parse(ByteBuffer buffer, int start, int length) {
        int n = length;
        // Query and Parse texts end with a NUL; a Parse body goes on with parameter types.
        for (int i = 0; i < length; i++) {
            if (buffer.get(start + i) == 0) {
                n = i;
                break;
            }
        }
        if (n > MAX_LENGTH || n < 5) {
            return null;
        }
        byte[] b = new byte[n];
        buffer.get(start, b, 0, n);
        return parse(new String(b, StandardCharsets.UTF_8));
    }

    public static Assignment parse(String text) {
        Matcher m = ASSIGNMENT.matcher(text);
        if (!m.matches()) {
            return null;
        }
        String name = m.group(1).toLowerCase(Locale.ROOT);
        if (NOT_PARAMETERS.contains(name)) {
            return null;
        }
        String value = m.group(2);
        if (value.equalsIgnoreCase("default")) {
            return null;
        }
        if (value.startsWith("'")) {
            value = value.substring(1, value.length() - 1);
        }
        return new Assignment(name, value);
    }
}
