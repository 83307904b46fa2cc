package io.pgproxy.config;

import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * libpq's {@code require_auth} for one database: the authentication methods the proxy lets its
 * backend ask for. A backend asking for any other fails that connection before a secret is sent.
 *
 * @param allowed the methods allowed; null means "by TLS": all over TLS, and neither a cleartext
 *                password nor md5 without it (they would cross the network readable or replayable)
 */
public record RequireAuth(Set<Method> allowed) {
    /** What a backend may ask for, with libpq's names. */
    public enum Method {
        PASSWORD("password"), MD5("md5"), SCRAM_SHA_256("scram-sha-256"), NONE("none");

        private final String libpqName;

        Method(String libpqName) {
            this.libpqName = libpqName;
        }

        public String libpqName() {
            return libpqName;
        }
    }

    /** The default: decided per connection by whether it runs over TLS. */
    public static final RequireAuth BY_TLS = new RequireAuth(null);

    public RequireAuth {
        allowed = allowed == null ? null : Set.copyOf(allowed);
    }

    /** Whether the backend may ask for {@code method} on a connection that is (or is not) TLS. */
    public boolean allows(Method method, boolean tls) {
        if (allowed != null) {
            return allowed.contains(method);
        }
        return tls || (method != Method.PASSWORD && method != Method.MD5);
    }

    /**
     * Parses libpq's syntax: a comma list of methods, or of methods each negated with {@code !}
     * (all but those); the two forms cannot mix. Returns null and explains through {@code problem}.
     */
    public static RequireAuth parse(String text, StringBuilder problem) {
        Objects.requireNonNull(text, "text");
        if (text.isBlank()) {
            return BY_TLS;
        }
        Set<Method> listed = EnumSet.noneOf(Method.class);
        Boolean negated = null;
        for (String raw : text.split(",", -1)) {
            String item = raw.trim();
            boolean not = item.startsWith("!");
            String name = not ? item.substring(1).trim() : item;
            if (negated != null && negated != not) {
                problem.append("negative and positive methods cannot be mixed (as in libpq)");
                return null;
            }
            negated = not;
            Method m = byName(name);
            if (m == null) {
                problem.append("unknown method \"").append(name).append("\" (expected password, md5, scram-sha-256 or none, each optionally with !)");
                return null;
            }
            if (!listed.add(m)) {
                problem.append("method \"").append(name).append("\" is listed more than once");
                return null;
            }
        }
        return new RequireAuth(negated ? EnumSet.complementOf(EnumSet.copyOf(listed)) : listed);
    }

    private static Method byName(String name) {
        for (Method m : Method.values()) {
            if (m.libpqName.equalsIgnoreCase(name)) {
                return m;
            }
        }
        return null;
    }

    /** The libpq spelling of what is allowed, for messages. */
    public String describe() {
        if (allowed == null) {
            return "the default (no cleartext password or md5 without TLS)";
        }
        return allowed.isEmpty() ? "no method" : String.join(",", allowed.stream().sorted().map(Method::libpqName).toList());
    }
}
