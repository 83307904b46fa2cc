package io.pgproxy.session;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Startup parameter values written the way PostgreSQL reports them once it has applied them:
 * encoding aliases by their canonical name (PostgreSQL drops every character but letters and
 * digits before the lookup, so {@code 'utf-8'} with its quotes is {@code UTF8}), booleans as
 * {@code on}/{@code off}, IntervalStyle in lower case, and DateStyle merged with the value it
 * changes. A value this class cannot judge is returned as it is; the backend it first runs on
 * then reports the real one and the client is told (see {@link SessionParameters#corrections}).
 */
public final class ParameterValues {
    /** PostgreSQL's encoding names, canonical first, then aliases (src/common/encnames.c). */
    private static final Map<String, String> ENCODINGS = new HashMap<>();

    static {
        for (String name : new String[] {"SQL_ASCII", "EUC_JP", "EUC_CN", "EUC_KR", "EUC_TW", "EUC_JIS_2004", "UTF8",
                "MULE_INTERNAL", "LATIN1", "LATIN2", "LATIN3", "LATIN4", "LATIN5", "LATIN6", "LATIN7", "LATIN8",
                "LATIN9", "LATIN10", "WIN1256", "WIN1258", "WIN866", "WIN874", "KOI8R", "WIN1251", "WIN1252",
                "ISO_8859_5", "ISO_8859_6", "ISO_8859_7", "ISO_8859_8", "WIN1250", "WIN1253", "WIN1254", "WIN1255",
                "WIN1257", "KOI8U", "SJIS", "BIG5", "GBK", "UHC", "GB18030", "JOHAB", "SHIFT_JIS_2004"}) {
            ENCODINGS.put(clean(name), name);
        }
        String[][] aliases = {
                {"abc", "WIN1258"}, {"alt", "WIN866"}, {"iso88591", "LATIN1"}, {"iso88592", "LATIN2"},
                {"iso88593", "LATIN3"}, {"iso88594", "LATIN4"}, {"iso88599", "LATIN5"}, {"iso885910", "LATIN6"},
                {"iso885913", "LATIN7"}, {"iso885914", "LATIN8"}, {"iso885915", "LATIN9"}, {"iso885916", "LATIN10"},
                {"koi8", "KOI8R"}, {"mskanji", "SJIS"}, {"shiftjis", "SJIS"}, {"tcvn", "WIN1258"},
                {"tcvn5712", "WIN1258"}, {"unicode", "UTF8"}, {"vscii", "WIN1258"}, {"win", "WIN1251"},
                {"win932", "SJIS"}, {"win936", "GBK"}, {"win949", "UHC"}, {"win950", "BIG5"},
                {"windows1250", "WIN1250"}, {"windows1251", "WIN1251"}, {"windows1252", "WIN1252"},
                {"windows1253", "WIN1253"}, {"windows1254", "WIN1254"}, {"windows1255", "WIN1255"},
                {"windows1256", "WIN1256"}, {"windows1257", "WIN1257"}, {"windows1258", "WIN1258"},
                {"windows866", "WIN866"}, {"windows874", "WIN874"}, {"windows932", "SJIS"}, {"windows936", "GBK"},
                {"windows949", "UHC"}, {"windows950", "BIG5"}};
        for (String[] a : aliases) {
            ENCODINGS.put(a[0], a[1]);
        }
    }

    private ParameterValues() {
    }

    /**
     * The value PostgreSQL would report for {@code name} after a client asked for {@code value}.
     *
     * @param current the value before (DateStyle keeps what the new value does not name); may be null
     */
    public static String normalise(String name, String value, String current) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "client_encoding" -> ENCODINGS.getOrDefault(clean(value), value);
            case "standard_conforming_strings", "default_transaction_read_only" -> bool(value);
            case "intervalstyle" -> intervalStyle(value);
            case "datestyle" -> dateStyle(value, current);
            default -> value;
        };
    }

    /** As PostgreSQL's clean_encoding_name: letters and digits only, lower case. */
    private static String clean(String name) {
        StringBuilder b = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 128 && Character.isLetterOrDigit(c)) {
                b.append(Character.toLowerCase(c));
            }
        }
        return b.toString();
    }

    /** As PostgreSQL's parse_bool: unique prefixes of true/false/yes/no, on/off, 1/0. */
    private static String bool(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        if (v.isEmpty()) {
            return value;
        }
        if ("true".startsWith(v) || "yes".startsWith(v) || v.equals("on") || v.equals("1")) {
            return "on";
        }
        if ("false".startsWith(v) || "no".startsWith(v) || (v.length() >= 2 && "off".startsWith(v)) || v.equals("0")) {
            return "off";
        }
        return value;
    }

    private static String intervalStyle(String value) {
        String v = value.toLowerCase(Locale.ROOT);
        return switch (v) {
            case "postgres", "postgres_verbose", "sql_standard", "iso_8601" -> v;
            default -> value;
        };
    }

    /**
     * As PostgreSQL's check_datestyle: a list of an output style and an input order, each
     * optional, the rest kept from the current value; German alone implies DMY.
     */
    private static String dateStyle(String value, String current) {
        String style = null;
        String order = null;
        if (current != null) {
            for (String word : current.split("[\\s,]+")) {
                String s = styleOf(word);
                String o = orderOf(word);
                style = s != null ? s : style;
                order = o != null ? o : order;
            }
        }
        String newStyle = null;
        String newOrder = null;
        for (String word : value.split("[\\s,]+")) {
            if (word.isEmpty()) {
                continue;
            }
            String s = styleOf(word);
            String o = orderOf(word);
            if (s != null) {
                if (newStyle != null && !newStyle.equals(s)) {
                    return value; // conflicting styles: PostgreSQL refuses it, and says so
                }
                newStyle = s;
            } else if (o != null) {
                if (newOrder != null && !newOrder.equals(o)) {
                    return value;
                }
                newOrder = o;
            } else {
                return value; // DEFAULT or a word PostgreSQL rejects: let the backend answer
            }
        }
        if (newStyle == null && newOrder == null) {
            return value;
        }
        if (newStyle != null) {
            if (newStyle.equals("German") && newOrder == null) {
                newOrder = "DMY";
            }
            style = newStyle;
        }
        if (newOrder != null) {
            order = newOrder;
        }
        if (style == null || order == null) {
            return value;
        }
        return style + ", " + order;
    }

    private static String styleOf(String word) {
        return switch (word.toLowerCase(Locale.ROOT)) {
            case "iso" -> "ISO";
            case "sql" -> "SQL";
            case "postgres" -> "Postgres";
            case "german" -> "German";
            default -> null;
        };
    }

    private static String orderOf(String word) {
        return switch (word.toLowerCase(Locale.ROOT)) {
            case "ymd" -> "YMD";
            case "dmy", "euro", "european" -> "DMY";
            case "mdy", "us", "noneuro", "noneuropean" -> "MDY";
            default -> null;
        };
    }
}
