package io.pgproxy.session;

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
    public static final int MAX_LENGTH = 512;
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
    public static Assignment parse(String text) {
        String t = text.stripLeading();
        // Most statements are not SETs: a cheap test before the pattern.
        if (t.length() > MAX_LENGTH || !t.regionMatches(true, 0, "SET", 0, 3)) {
            return null;
        }
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
