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

    /**
     * What a statement text that starts with SET was taken for, in the order sent; matched in
     * that order to the CommandComplete "SET" tags that answer them.
     */
    public sealed interface Sent permits Assignment, Default, Local, Unrecognised {
    }

    /** A parameter name and the value a plain SET gives it: replayable. */
    public record Assignment(String name, String value) implements Sent {
    }

    /** {@code SET name TO DEFAULT} or {@code SET TIME ZONE LOCAL}: a RESET by another name. */
    public record Default(String name) implements Sent {
    }

    private static final Pattern TO_DEFAULT = Pattern.compile(
            "(?is)\\s*SET\\s+(?:SESSION\\s+)?(?:([a-z_][a-z0-9_.$]*)\\s*(?:=|\\s+TO\\s+)\\s*DEFAULT"
                    + "|(TIME\\s+ZONE)\\s+(?:LOCAL|DEFAULT))\\s*;?\\s*");

    /** SET LOCAL or SET TRANSACTION: ends with its transaction, nothing to follow or pin. */
    public record Local() implements Sent {
    }

    /** Any other SET: only its ParameterStatus, if any, tells what it changed. */
    public record Unrecognised() implements Sent {
    }

    private static final Pattern LOCAL = Pattern.compile(
            "(?is)\\s*SET\\s+(?:LOCAL|TRANSACTION)\\s[^;]*;?\\s*");

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

    /**
     * What a whole statement text is, if it starts with SET; null for any other statement.
     * {@code whole}: the text's end was seen (a streamed long statement is never a plain SET).
     */
    public static Sent classify(String text, boolean whole) {
        String t = text.stripLeading();
        if (t.length() < 4 || !t.regionMatches(true, 0, "SET", 0, 3) || !Character.isWhitespace(t.charAt(3))) {
            return null;
        }
        if (!whole) {
            return new Unrecognised();
        }
        Assignment a = parse(text);
        if (a != null) {
            return a;
        }
        if (t.length() <= MAX_LENGTH && LOCAL.matcher(t).matches()) {
            return new Local();
        }
        Matcher d = t.length() <= MAX_LENGTH ? TO_DEFAULT.matcher(t) : null;
        if (d != null && d.matches()) {
            String name = d.group(1) != null ? d.group(1).toLowerCase(Locale.ROOT) : "timezone";
            if (!NOT_PARAMETERS.contains(name)) {
                return new Default(name);
            }
        }
        return new Unrecognised();
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
            // For a list parameter (search_path, ...) a quoted literal is one element, which
            // set_config of the same text would split: not replayable as it stands.
            if (value.indexOf(',') >= 0 || value.indexOf('"') >= 0) {
                return null;
            }
        } else if (Character.isLetter(value.charAt(0)) || value.charAt(0) == '_') {
            // An unquoted word is an identifier to the parser, folded to lower case.
            value = value.toLowerCase(Locale.ROOT);
        }
        return new Assignment(name, value);
    }
}
