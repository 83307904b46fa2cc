package io.pgproxy.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Typed, checked reads of one parsed configuration: each getter names the key path in its
 * error and never echoes a value (it may be a password). What the loader's reader builds on.
 */
class ConfigValues {
    static final int MAX_NAME_BYTES = 63;

    final Config config;

    ConfigValues(Config config) {
        this.config = config;
    }

    ConfigObject object(String at) throws ConfigException {
        ConfigValue value = valueOrNull(at);
        if (value == null || value.valueType() != ConfigValueType.OBJECT) {
            throw wrongType(at, "an object", value);
        }
        return (ConfigObject) value;
    }

    String string(String at) throws ConfigException {
        ConfigValue value = valueOrNull(at);
        // Numbers and booleans are accepted as their text, as HOCON itself does for unquoted values.
        if (value == null || value.valueType() == ConfigValueType.OBJECT
                || value.valueType() == ConfigValueType.LIST || value.valueType() == ConfigValueType.NULL) {
            throw wrongType(at, "a string", value);
        }
        return config.getString(at);
    }

    String nonEmptyString(String at) throws ConfigException {
        String s = string(at);
        if (s.isBlank()) {
            throw new ConfigException(at, "must not be empty");
        }
        return s;
    }

    long integer(String at, long min, long max) throws ConfigException {
        Number n;
        try {
            n = config.getNumber(at);
        } catch (com.typesafe.config.ConfigException e) {
            throw wrongType(at, "a whole number", valueOrNull(at));
        }
        if ((n instanceof Double || n instanceof Float) && n.doubleValue() != Math.rint(n.doubleValue())) {
            throw new ConfigException(at, "must be a whole number, was " + n);
        }
        double d = n.doubleValue();
        long v = n.longValue();
        if (d < min || d > max) {
            throw new ConfigException(at, "must be between " + min + " and " + max + ", was "
                    + (n instanceof Double ? String.valueOf(d) : String.valueOf(v)));
        }
        return v;
    }

    long bytes(String at, long min, long max) throws ConfigException {
        long v;
        try {
            v = config.getBytes(at);
        } catch (com.typesafe.config.ConfigException e) {
            throw wrongType(at, "a size in bytes (e.g. 65536, 64KiB, 1GiB)", valueOrNull(at));
        }
        if (v < min || v > max) {
            throw new ConfigException(at, "must be between " + min + " and " + max + " bytes, was " + v);
        }
        return v;
    }

    Duration duration(String at) throws ConfigException {
        Duration d;
        try {
            d = config.getDuration(at);
        } catch (com.typesafe.config.ConfigException e) {
            throw wrongType(at, "a duration (e.g. 500ms, 30s, 10m)", valueOrNull(at));
        }
        if (d.isNegative()) {
            throw new ConfigException(at, "must not be negative, was " + config.getValue(at).unwrapped());
        }
        return d;
    }

    PoolMode poolMode(String at) throws ConfigException {
        String s = string(at);
        return switch (normalize(s)) {
            case "session" -> PoolMode.SESSION;
            case "transaction" -> PoolMode.TRANSACTION;
            case "statement" -> PoolMode.STATEMENT;
            default -> throw new ConfigException(at, "must be session, transaction or statement, was \"" + s + "\"");
        };
    }

    SessionIsolation sessionIsolation(String at) throws ConfigException {
        String s = string(at);
        return switch (normalize(s)) {
            case "reset" -> SessionIsolation.RESET;
            case "tracked" -> SessionIsolation.TRACKED;
            default -> throw new ConfigException(at, "must be reset or tracked, was \"" + s + "\"");
        };
    }

    ClientTlsMode clientTlsMode(String at) throws ConfigException {
        String s = string(at);
        return switch (normalize(s)) {
            case "disable" -> ClientTlsMode.DISABLE;
            case "allow" -> ClientTlsMode.ALLOW;
            case "prefer" -> ClientTlsMode.PREFER;
            case "require" -> ClientTlsMode.REQUIRE;
            case "verify-ca" -> ClientTlsMode.VERIFY_CA;
            case "verify-full" -> ClientTlsMode.VERIFY_FULL;
            default -> throw new ConfigException(at,
                    "must be disable, allow, prefer, require, verify-ca or verify-full, was \"" + s + "\"");
        };
    }

    /** A file name, or null for "". Relative names are taken from the working directory. */
    java.nio.file.Path optionalPath(String at) throws ConfigException {
        String s = string(at);
        return s.isEmpty() ? null : java.nio.file.Path.of(s);
    }

    boolean bool(String at) throws ConfigException {
        ConfigValue v = valueOrNull(at);
        if (v == null || v.valueType() != ConfigValueType.BOOLEAN) {
            throw wrongType(at, "true or false", v);
        }
        return (Boolean) v.unwrapped();
    }

    List<String> stringList(String at) throws ConfigException {
        ConfigValue v = valueOrNull(at);
        if (v == null || v.valueType() != ConfigValueType.LIST) {
            throw wrongType(at, "a list of strings", v);
        }
        List<String> out = new java.util.ArrayList<>();
        List<?> items = (List<?>) v.unwrapped();
        for (int i = 0; i < items.size(); i++) {
            if (!(items.get(i) instanceof String item)) {
                throw new ConfigException(at + "[" + i + "]", "expected a string");
            }
            out.add(item);
        }
        return out;
    }

    AuthMethod authMethod(String at) throws ConfigException {
        String s = string(at);
        return switch (normalize(s)) {
            case "scram-sha-256" -> AuthMethod.SCRAM_SHA_256;
            case "md5" -> AuthMethod.MD5;
            case "trust" -> AuthMethod.TRUST;
            default -> throw new ConfigException(at, "must be scram-sha-256, md5 or trust, was \"" + s + "\"");
        };
    }

    static String normalize(String s) {
        // Accept SCRAM_SHA_256 too: it is how the enum prints in logs, so operators will copy it.
        return s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    void checkKeys(String at, ConfigObject object, Set<String> allowed) throws ConfigException {
        for (String key : keysInFileOrder(object)) {
            if (!allowed.contains(key)) {
                throw new ConfigException(path(at, key), "unknown key (expected one of "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    static void checkName(String at, String name) throws ConfigException {
        if (name.isEmpty()) {
            throw new ConfigException(at, "name must not be empty");
        }
        int length = name.getBytes(StandardCharsets.UTF_8).length;
        if (length > MAX_NAME_BYTES) {
            throw new ConfigException(at, "name must be at most " + MAX_NAME_BYTES + " bytes, was " + length);
        }
        if (name.indexOf('\0') >= 0) {
            throw new ConfigException(at, "name must not contain a NUL character");
        }
    }

    ConfigValue valueOrNull(String at) {
        return config.hasPathOrNull(at) ? config.getValue(at) : null;
    }

    static ConfigException wrongType(String at, String expected, ConfigValue actual) {
        String was;
        if (actual == null) {
            was = "missing";
        } else {
            // Only the type, never the text: the value may be a password.
            was = switch (actual.valueType()) {
                case OBJECT -> "an object";
                case LIST -> "a list";
                case NUMBER -> "a number";
                case BOOLEAN -> "a boolean";
                case NULL -> "null";
                case STRING -> "a string";
            };
        }
        return new ConfigException(at, "expected " + expected + ", was " + was);
    }

    /**
     * Typesafe objects iterate in hash order; sorting by line restores the order of the file, which
     * is the order operators expect. Keys on one line fall back to name order.
     */
    static List<String> keysInFileOrder(ConfigObject object) {
        List<String> keys = new ArrayList<>(object.keySet());
        keys.sort(Comparator.comparingInt((String k) -> lineOf(object.get(k))).thenComparing(Comparator.naturalOrder()));
        return keys;
    }

    static int lineOf(ConfigValue value) {
        ConfigOrigin origin = value.origin();
        return origin == null || origin.lineNumber() < 0 ? Integer.MAX_VALUE : origin.lineNumber();
    }

    static String path(String prefix, String... keys) {
        return prefix + "." + ConfigUtil.joinPath(keys);
    }
}
