package io.pgproxy.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads {@code pgproxy.hba} (pg_hba.conf's rules), {@code pgproxy.ident-maps} (pg_ident.conf) and
 * {@code pgproxy.auth-query} (PgBouncer's auth_user/auth_query) into an {@link AuthConfig},
 * naming the exact key, list index included, of the first problem.
 */
final class AuthConfigReader extends ConfigValues {
    static final String HBA = "pgproxy.hba";
    static final String IDENT_MAPS = "pgproxy.ident-maps";
    static final String AUTH_QUERY = "pgproxy.auth-query";
    private static final Set<String> RULE_KEYS = Set.of("type", "database", "user", "address", "method", "map",
            "allow-without-tls");
    private static final Set<String> MAPPING_KEYS = Set.of("system-user", "user");
    private static final Set<String> AUTH_QUERY_KEYS = Set.of("auth-user", "auth-password", "query", "auth-dbname",
            "cache-ttl", "max-cached-users");
    private static final String ALL = "all";
    /** Past this many cached answers the cache stops being a cache and becomes the proxy's memory problem. */
    private static final int MAX_CACHED_USERS = 10_000_000;

    AuthConfigReader(Config config) {
        super(config);
    }

    AuthConfig read(Map<String, DatabaseConfig> databases) throws ConfigException {
        Map<String, Map<String, Set<String>>> maps = identMaps();
        List<AuthRule> rules = new ArrayList<>();
        List<? extends ConfigValue> items = list(HBA);
        for (int i = 0; i < items.size(); i++) {
            String at = HBA + "[" + i + "]";
            rules.add(rule(at, element(at, items.get(i)), maps));
        }
        return new AuthConfig(rules, maps, authQuery(databases));
    }

    private AuthRule rule(String at, ConfigObject object, Map<String, Map<String, Set<String>>> maps) throws ConfigException {
        checkKeys(at, object, RULE_KEYS);
        ElementValues v = new ElementValues(at, object);
        ConnectionType type = v.has("type") ? connectionType(at + ".type", v.string("type")) : ConnectionType.HOST;
        if (!v.has("method")) {
            throw new ConfigException(at + ".method", "is required (trust, reject, password, md5, scram-sha-256, "
                    + "scram-sha-256-plus or cert)");
        }
        AuthMethod method = ruleMethod(at + ".method", v.string("method"));
        Cidr address = null;
        if (v.has("address") && !v.string("address").trim().equalsIgnoreCase(ALL)) {
            try {
                address = Cidr.parse(v.string("address"));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(at + ".address", e.getMessage() + " (expected all, an address or a CIDR range)");
            }
        }
        String map = v.has("map") ? v.string("map") : null;
        boolean allowWithoutTls = v.has("allow-without-tls") && v.bool("allow-without-tls");
        if (method == AuthMethod.CERT && type != ConnectionType.HOSTSSL) {
            throw new ConfigException(at + ".method", "cert authentication is only supported on hostssl connections");
        }
        if (method == AuthMethod.SCRAM_SHA_256_PLUS && type == ConnectionType.HOSTNOSSL) {
            throw new ConfigException(at + ".method", "scram-sha-256-plus needs TLS, so it cannot be used with hostnossl");
        }
        if (map != null && method != AuthMethod.CERT) {
            throw new ConfigException(at + ".map", "is only used with method = cert");
        }
        if (map != null && !maps.containsKey(map)) {
            throw new ConfigException(at + ".map", "ident map \"" + map + "\" is not in " + IDENT_MAPS);
        }
        if (allowWithoutTls && method != AuthMethod.PASSWORD) {
            throw new ConfigException(at + ".allow-without-tls", "is only used with method = password");
        }
        return new AuthRule(type, v.names("database"), v.names("user"), address, method, map, allowWithoutTls);
    }

    private Map<String, Map<String, Set<String>>> identMaps() throws ConfigException {
        Map<String, Map<String, Set<String>>> maps = new LinkedHashMap<>();
        ConfigObject root = object(IDENT_MAPS);
        for (String name : keysInFileOrder(root)) {
            String mapAt = path(IDENT_MAPS, name);
            List<? extends ConfigValue> items = list(mapAt);
            Map<String, Set<String>> bySystemUser = new LinkedHashMap<>();
            for (int i = 0; i < items.size(); i++) {
                String at = mapAt + "[" + i + "]";
                ConfigObject o = element(at, items.get(i));
                checkKeys(at, o, MAPPING_KEYS);
                ElementValues v = new ElementValues(at, o);
                for (String key : MAPPING_KEYS) {
                    if (!v.has(key)) {
                        throw new ConfigException(at + "." + key, "is required");
                    }
                }
                String user = v.string("user");
                checkName(at + ".user", user);
                bySystemUser.computeIfAbsent(v.string("system-user"), k -> new LinkedHashSet<>()).add(user);
            }
            maps.put(name, bySystemUser);
        }
        return maps;
    }

    private AuthQueryConfig authQuery(Map<String, DatabaseConfig> databases) throws ConfigException {
        checkKeys(AUTH_QUERY, object(AUTH_QUERY), AUTH_QUERY_KEYS);
        String user = string(path(AUTH_QUERY, "auth-user"));
        if (user.isEmpty()) {
            return null;
        }
        checkName(path(AUTH_QUERY, "auth-user"), user);
        String password = string(path(AUTH_QUERY, "auth-password"));
        String query = nonEmptyString(path(AUTH_QUERY, "query"));
        if (!query.contains("$1")) {
            throw new ConfigException(path(AUTH_QUERY, "query"), "must use $1, the user name being looked up");
        }
        String dbname = string(path(AUTH_QUERY, "auth-dbname"));
        if (!dbname.isEmpty() && !databases.containsKey(dbname)) {
            throw new ConfigException(path(AUTH_QUERY, "auth-dbname"), "database \"" + dbname + "\" is not in pgproxy.databases");
        }
        return new AuthQueryConfig(user, password.isEmpty() ? null : password, query, dbname.isEmpty() ? null : dbname,
                duration(path(AUTH_QUERY, "cache-ttl")),
                (int) integer(path(AUTH_QUERY, "max-cached-users"), 1, MAX_CACHED_USERS));
    }

    private List<? extends ConfigValue> list(String at) throws ConfigException {
        ConfigValue value = valueOrNull(at);
        if (value == null || value.valueType() != ConfigValueType.LIST) {
            throw wrongType(at, "a list", value);
        }
        return config.getList(at);
    }

    private static ConfigObject element(String at, ConfigValue value) throws ConfigException {
        if (value.valueType() != ConfigValueType.OBJECT) {
            throw wrongType(at, "an object", value);
        }
        return (ConfigObject) value;
    }

    private static ConnectionType connectionType(String at, String s) throws ConfigException {
        return switch (normalize(s)) {
            case "host" -> ConnectionType.HOST;
            case "hostssl" -> ConnectionType.HOSTSSL;
            case "hostnossl" -> ConnectionType.HOSTNOSSL;
            default -> throw new ConfigException(at, "must be host, hostssl or hostnossl, was \"" + s + "\"");
        };
    }

    private static AuthMethod ruleMethod(String at, String s) throws ConfigException {
        String n = normalize(s);
        for (AuthMethod m : AuthMethod.values()) {
            if (m.configName().equals(n)) {
                return m;
            }
        }
        throw new ConfigException(at, "must be trust, reject, password, md5, scram-sha-256, scram-sha-256-plus or cert, was \""
                + s + "\"");
    }

    /** Typed reads of one list element, whose errors carry the element's path (typesafe paths cannot index lists). */
    private static final class ElementValues {
        private final String at;
        private final ConfigValues values;

        ElementValues(String at, ConfigObject object) {
            this.at = at;
            this.values = new ConfigValues(object.toConfig());
        }

        boolean has(String key) {
            return values.config.hasPath(key);
        }

        String string(String key) throws ConfigException {
            try {
                return values.string(key);
            } catch (ConfigException e) {
                throw new ConfigException(at + "." + key, e.reason());
            }
        }

        boolean bool(String key) throws ConfigException {
            ConfigValue v = values.valueOrNull(key);
            if (v == null || v.valueType() != ConfigValueType.BOOLEAN) {
                throw wrongType(at + "." + key, "true or false", v);
            }
            return (Boolean) v.unwrapped();
        }

        /** A name or a list of names; {@code all} (or the key left out) is every name, as an empty set. */
        Set<String> names(String key) throws ConfigException {
            if (!has(key)) {
                return Set.of();
            }
            ConfigValue v = values.valueOrNull(key);
            List<Object> items = v.valueType() == ConfigValueType.LIST
                    ? new ArrayList<>((List<?>) v.unwrapped()) : List.of(v.unwrapped());
            Set<String> names = new LinkedHashSet<>();
            for (int i = 0; i < items.size(); i++) {
                String itemAt = at + "." + key + (v.valueType() == ConfigValueType.LIST ? "[" + i + "]" : "");
                if (!(items.get(i) instanceof String name)) {
                    throw new ConfigException(itemAt, "expected a name (a string) or all");
                }
                if (name.equals(ALL)) {
                    return Set.of();
                }
                checkName(itemAt, name);
                names.add(name);
            }
            if (names.isEmpty()) {
                throw new ConfigException(at + "." + key, "must name at least one, or be all");
            }
            return names;
        }
    }
}
