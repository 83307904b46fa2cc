package io.pgproxy.session;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code options} startup parameter (libpq's {@code PGOPTIONS}) in the forms that set
 * run-time parameters: {@code -c name=value}, {@code -cname=value} and {@code --name=value},
 * separated by spaces, a backslash escaping the next character. Other backend command-line
 * switches have no meaning through a pooler and are refused.
 */
public final class StartupOptions {
    private StartupOptions() {
    }

    /** The parameters the options set, in order. */
    public static Map<String, String> parse(String options) {
        Map<String, String> values = new LinkedHashMap<>();
        String[] words = split(options);
        for (int i = 0; i < words.length; i++) {
            String w = words[i];
            String assignment;
            if (w.equals("-c")) {
                if (i + 1 >= words.length) {
                    throw new IllegalArgumentException("-c without name=value");
                }
                assignment = words[++i];
            } else if (w.startsWith("-c")) {
                assignment = w.substring(2);
            } else if (w.startsWith("--")) {
                assignment = w.substring(2);
            } else {
                throw new IllegalArgumentException("unsupported option \"" + w + "\"; only -c name=value is");
            }
            int eq = assignment.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected name=value, got \"" + assignment + "\"");
            }
            // As PostgreSQL does: dashes in the name stand for underscores.
            values.put(assignment.substring(0, eq).replace('-', '_'), assignment.substring(eq + 1));
        }
        return values;
    }

    private static String[] split(String options) {
        java.util.List<String> words = new java.util.ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean escaped = false;
        for (int i = 0; i < options.length(); i++) {
            char c = options.charAt(i);
            if (escaped) {
                w.append(c);
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (Character.isWhitespace(c)) {
                if (!w.isEmpty()) {
                    words.add(w.toString());
                    w.setLength(0);
                }
            } else {
                w.append(c);
            }
        }
        if (!w.isEmpty()) {
            words.add(w.toString());
        }
        return words.toArray(String[]::new);
    }
}
