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

    private static final Pattern RESET = Pattern.compile("(?is)\\s*RESET\\s+([a-z_][a-z0-9_.$]*)\\s*;?\\s*");

    /** A parameter name and the value a SET gives it. */
    public record Assignment(String name, String value) {
    }

    /** {@code RESET name}, or {@code RESET ALL} when {@link #all()}: back to the session default. */
    public record Reset(String name) {
        public boolean all() {
            return name.equals("all");
        }
    }

    private SetStatement() {
    }

    /**
     * The parameter a {@code RESET} statement returns to its session default, or null when the
     * text is not one (or resets something that is not a parameter, such as ROLE).
     */
    public static Reset parseReset(String text) {
        Matcher m = matching(text, "RESET", RESET);
        if (m == null) {
            return null;
        }
        String name = m.group(1).toLowerCase(Locale.ROOT);
        return NOT_PARAMETERS.contains(name) ? null : new Reset(name);
    }

    /** The pattern's match of the whole text, or null; most texts fail the cheap keyword test first. */
    private static Matcher matching(String text, String keyword, Pattern pattern) {
        String t = text.stripLeading();
        if (t.length() > MAX_LENGTH || !t.regionMatches(true, 0, keyword, 0, keyword.length())) {
            return null;
        }
        Matcher m = pattern.matcher(text);
        return m.matches() ? m : null;
    }

    /** The assignment in a statement text, or null when it is not a plain SET. */
    public static Assignment parse(String text) {
        Matcher m = matching(text, "SET", ASSIGNMENT);
        if (m == null) {
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
