package io.pgproxy.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a HOCON file over {@code reference.conf} and turns it into a {@link ProxyConfig}, or
 * explains, with the key path, the first thing that is wrong with it.
 */
public final class ConfigLoader {
    private static final String ROOT = "pgproxy";

    // Listed here rather than taken from reference.conf so that a key added there without code
    // to read it is caught by the tests instead of being silently accepted.
    private static final Set<String> ROOT_KEYS = Set.of("listen", "limits", "pool", "users", "databases",
            "stats-period", "metrics", "admin-users", "stats-users", "client-tls", "hba", "ident-maps", "auth-query",
            "backend", "failover");
    private static final Set<String> FAILOVER_KEYS = Set.of("check-interval", "check-timeout", "fall-count",
            "rise-count", "primary-wait-timeout", "switchover-timeout", "health-user", "health-password", "max-replica-lag",
            "replay-max-bytes", "replay-max-statements", "replay-timeout");
    private static final Set<String> CLIENT_TLS_KEYS = Set.of("mode", "cert-file", "key-file", "key-passphrase-env",
            "ca-file", "min-version", "ciphers", "direct");
    private static final Set<String> LISTEN_KEYS = Set.of("host", "port");
    private static final Set<String> METRICS_KEYS = Set.of("listen-host", "listen-port", "max-labelled-pools");
    /** Each labelled pool adds some 60 series to a scrape; past this, a scrape is too large to be useful. */
    private static final int MAX_LABELLED_POOLS = 10_000;
    private static final Set<String> LIMITS_KEYS = Set.of("max-clients", "max-message-size",
            "max-startup-packet-size", "startup-timeout", "client-idle-timeout", "shutdown-timeout",
            "max-scram-iterations", "query-timeout", "idle-transaction-timeout", "max-db-clients",
            "max-user-clients", "max-db-connections", "max-user-connections",
            "max-client-prepared-statements", "max-scram-nonce-length", "max-backend-auth-message-size");
    private static final int MAX_PREPARED_STATEMENTS = 100_000;
    private static final Set<String> POOL_KEYS = Set.of("mode", "size", "reset-query", "server-idle-timeout",
            "server-lifetime", "server-connect-timeout", "wait-timeout", "min-size", "reserve-size",
            "reserve-timeout", "max-prepared-statements", "session-isolation");
    private static final Set<String> USER_KEYS = Set.of("auth", "password", "pool-mode", "backend-password");
    private static final Set<String> DATABASE_KEYS = union(Set.of("host", "port", "dbname", "user", "password",
            "pool-size", "mode", "client-tls-mode", "target-session-attrs",
            "transaction-replay"), BackendSettingsReader.KEYS);

    /** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; a longer name could never match. */
    private static final long GIB = 1L << 30;
    private static final int MAX_POOL_SIZE = 10_000;
    /** Far past any real server nonce (PostgreSQL's is 24 characters), still cheap to hold. */
    private static final int MAX_NONCE_LENGTH = 1 << 20;

    private static final String SCRAM_PREFIX = "SCRAM-SHA-256$";
    private static final Pattern SCRAM = Pattern.compile(
            "SCRAM-SHA-256\\$([0-9]{1,10}):([A-Za-z0-9+/=]+)\\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)");
    private static final Pattern MD5 = Pattern.compile("md5[0-9a-f]{32}");

    private ConfigLoader() {
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> all = new java.util.HashSet<>(a);
        all.addAll(b);
        return Set.copyOf(all);
    }

    /** Loads {@code file} with {@code reference.conf} as fallback. */
    public static ProxyConfig load(Path file) throws ConfigException {
        String source = file.toString();
        // Checked up front because the parser's own messages for these cases are vague.
        if (!Files.exists(file)) {
            throw new ConfigException(source, "file not found");
        }
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(source, "not a regular file");
        }
        if (!Files.isReadable(file)) {
            throw new ConfigException(source, "file is not readable (check its permissions)");
        }
        Config parsed;
        try {
            // parseFile (not parseString on the contents) so includes resolve relative to the file.
            parsed = ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
        } catch (com.typesafe.config.ConfigException e) {
            throw parserError(source, e);
        }
        return build(source, parsed);
    }

    /** Parses HOCON text with {@code reference.conf} as fallback. */
    public static ProxyConfig parse(String hocon) throws ConfigException {
        String source = "<string>";
        Config parsed;
        try {
            parsed = ConfigFactory.parseString(hocon, ConfigParseOptions.defaults().setOriginDescription(source));
        } catch (com.typesafe.config.ConfigException e) {
            throw parserError(source, e);
        }
        return build(source, parsed);
    }

    private static ProxyConfig build(String source, Config parsed) throws ConfigException {
        Config reference = ConfigFactory.parseResources(ConfigLoader.class.getClassLoader(), "reference.conf",
                ConfigParseOptions.defaults().setAllowMissing(false));
        Config config;
        try {
            // Resolving after the merge lets the file refer to defaults and to ${?ENV_VARS}.
            config = parsed.withFallback(reference).resolve(ConfigResolveOptions.defaults());
        } catch (com.typesafe.config.ConfigException e) {
            throw parserError(source, e);
        }
        return new Reader(config).read();
    }

    private static ConfigException parserError(String source, com.typesafe.config.ConfigException e) {
        String message = e.getMessage();
        ConfigOrigin origin = e.origin();
        // Typesafe prefixes "<origin>: "; we state the line ourselves so the prefix would repeat it.
        if (origin != null && message.startsWith(origin.description() + ": ")) {
            message = message.substring(origin.description().length() + 2);
        }
        if (origin != null && origin.lineNumber() > 0) {
            String where = "line " + origin.lineNumber();
            String file = origin.filename();
            if (file != null && !Path.of(file).equals(Path.of(source))) {
                where = file + " " + where; // the problem is in an included file
            }
            message = where + ": " + message;
        }
        return new ConfigException(source, message);
    }

    /** Walks the merged tree with full key paths, so every error can name the exact key. */
    private static final class Reader extends ConfigValues {
        Reader(Config config) {
            super(config);
        }

        ProxyConfig read() throws ConfigException {
            ConfigObject root = object(ROOT);
            checkKeys(ROOT, root, ROOT_KEYS);
            checkKeys(path(ROOT, "listen"), object(path(ROOT, "listen")), LISTEN_KEYS);
            checkKeys(path(ROOT, "limits"), object(path(ROOT, "limits")), LIMITS_KEYS);
            checkKeys(path(ROOT, "pool"), object(path(ROOT, "pool")), POOL_KEYS);
            checkKeys(path(ROOT, "metrics"), object(path(ROOT, "metrics")), METRICS_KEYS);
            checkKeys(path(ROOT, "client-tls"), object(path(ROOT, "client-tls")), CLIENT_TLS_KEYS);
            checkKeys(path(ROOT, "failover"), object(path(ROOT, "failover")), FAILOVER_KEYS);

            ListenConfig listen = new ListenConfig(
                    nonEmptyString(path(ROOT, "listen", "host")),
                    (int) integer(path(ROOT, "listen", "port"), 0, 65535));

            String l = path(ROOT, "limits");
            Limits limits = new Limits(
                    (int) integer(path(l, "max-clients"), 1, Integer.MAX_VALUE),
                    (int) bytes(path(l, "max-message-size"), 4096, GIB),
                    (int) bytes(path(l, "max-startup-packet-size"), 1024, 65536),
                    duration(path(l, "startup-timeout")),
                    duration(path(l, "client-idle-timeout")),
                    duration(path(l, "shutdown-timeout")),
                    (int) integer(path(l, "max-scram-iterations"), 1, Integer.MAX_VALUE),
                    duration(path(l, "query-timeout")),
                    duration(path(l, "idle-transaction-timeout")),
                    (int) integer(path(l, "max-db-clients"), 0, Integer.MAX_VALUE),
                    (int) integer(path(l, "max-user-clients"), 0, Integer.MAX_VALUE),
                    (int) integer(path(l, "max-db-connections"), 0, Integer.MAX_VALUE),
                    (int) integer(path(l, "max-user-connections"), 0, Integer.MAX_VALUE),
                    (int) integer(path(l, "max-client-prepared-statements"), 1, Integer.MAX_VALUE),
                    (int) integer(path(l, "max-scram-nonce-length"), 1, MAX_NONCE_LENGTH),
                    (int) bytes(path(l, "max-backend-auth-message-size"), 1024, GIB));

            String p = path(ROOT, "pool");
            PoolDefaults pool = new PoolDefaults(
                    poolMode(path(p, "mode")),
                    (int) integer(path(p, "size"), 1, MAX_POOL_SIZE),
                    string(path(p, "reset-query")),
                    duration(path(p, "server-idle-timeout")),
                    duration(path(p, "server-lifetime")),
                    duration(path(p, "server-connect-timeout")),
                    duration(path(p, "wait-timeout")),
                    (int) integer(path(p, "min-size"), 0, MAX_POOL_SIZE),
                    (int) integer(path(p, "reserve-size"), 0, MAX_POOL_SIZE),
                    duration(path(p, "reserve-timeout")),
                    (int) integer(path(p, "max-prepared-statements"), 0, MAX_PREPARED_STATEMENTS),
                    sessionIsolation(path(p, "session-isolation")));

            Map<String, UserConfig> users = new LinkedHashMap<>();
            for (String name : keysInFileOrder(object(path(ROOT, "users")))) {
                users.put(name, user(name));
            }
            BackendSettingsReader backend = new BackendSettingsReader(this, path(ROOT, "backend"));
            backend.checkDefaults();
            Map<String, DatabaseConfig> databases = new LinkedHashMap<>();
            for (String name : keysInFileOrder(object(path(ROOT, "databases")))) {
                databases.put(name, database(name, pool, backend));
            }
            String m = path(ROOT, "metrics");
            MetricsConfig metrics = new MetricsConfig(
                    nonEmptyString(path(m, "listen-host")),
                    (int) integer(path(m, "listen-port"), 0, 65535),
                    (int) integer(path(m, "max-labelled-pools"), 0, MAX_LABELLED_POOLS));
            FailoverConfig failover = failover(databases);
            return new ProxyConfig(listen, limits, pool, users, databases, duration(path(ROOT, "stats-period")),
                    metrics, roleList(path(ROOT, "admin-users"), users), roleList(path(ROOT, "stats-users"), users),
                    clientTls(), new AuthConfigReader(config).read(databases), failover);
        }

        private FailoverConfig failover(Map<String, DatabaseConfig> databases) throws ConfigException {
            String at = path(ROOT, "failover");
            String healthUser = string(path(at, "health-user"));
            FailoverConfig f = new FailoverConfig(
                    positive(path(at, "check-interval")),
                    positive(path(at, "check-timeout")),
                    (int) integer(path(at, "fall-count"), 1, 1000),
                    (int) integer(path(at, "rise-count"), 1, 1000),
                    duration(path(at, "primary-wait-timeout")),
                    duration(path(at, "switchover-timeout")),
                    healthUser.isEmpty() ? null : healthUser,
                    healthUser.isEmpty() ? null : string(path(at, "health-password")),
                    bytes(path(at, "max-replica-lag"), 0, Long.MAX_VALUE),
                    (int) bytes(path(at, "replay-max-bytes"), 0, Integer.MAX_VALUE - 8),
                    (int) integer(path(at, "replay-max-statements"), 0, Integer.MAX_VALUE),
                    positive(path(at, "replay-timeout")));
            for (DatabaseConfig d : databases.values()) {
                if (d.isCluster() && d.user() == null && f.healthUser() == null) {
                    throw new ConfigException(path(ROOT, "databases", d.name(), "host"), "names " + d.hosts().size()
                            + " hosts, so they are health-checked: give the database a user, or set "
                            + path(at, "health-user"));
                }
            }
            return f;
        }

        private java.time.Duration positive(String at) throws ConfigException {
            java.time.Duration d = duration(at);
            if (d.isZero()) {
                throw new ConfigException(at, "must be more than 0");
            }
            return d;
        }

        /** Only the shape here: the files are read when the server puts the snapshot in force. */
        private ClientTlsConfig clientTls() throws ConfigException {
            String at = path(ROOT, "client-tls");
            ClientTlsMode mode = clientTlsMode(path(at, "mode"));
            java.nio.file.Path cert = optionalPath(path(at, "cert-file"));
            java.nio.file.Path key = optionalPath(path(at, "key-file"));
            if (mode != ClientTlsMode.DISABLE && (cert == null || key == null)) {
                throw new ConfigException(path(at, cert == null ? "cert-file" : "key-file"),
                        "is required when mode is " + string(path(at, "mode")));
            }
            java.nio.file.Path ca = optionalPath(path(at, "ca-file"));
            if (mode.requiresCertificate() && ca == null) {
                throw new ConfigException(path(at, "ca-file"), "is required to verify client certificates (mode "
                        + string(path(at, "mode")) + ")");
            }
            String passphraseEnv = string(path(at, "key-passphrase-env"));
            String minVersion = string(path(at, "min-version"));
            if (!minVersion.equals("TLSv1.2") && !minVersion.equals("TLSv1.3")) {
                throw new ConfigException(path(at, "min-version"), "must be TLSv1.2 or TLSv1.3, was \"" + minVersion + "\"");
            }
            return new ClientTlsConfig(mode, cert, key, passphraseEnv.isEmpty() ? null : passphraseEnv, ca, minVersion,
                    stringList(path(at, "ciphers")), bool(path(at, "direct")));
        }

        /** An admin console role: names of users that exist, since only they can log in. */
        private Set<String> roleList(String at, Map<String, UserConfig> users) throws ConfigException {
            ConfigValue value = valueOrNull(at);
            if (value == null || value.valueType() != ConfigValueType.LIST) {
                throw wrongType(at, "a list of user names", value);
            }
            Set<String> names = new java.util.LinkedHashSet<>();
            List<?> items = (List<?>) value.unwrapped();
            for (int i = 0; i < items.size(); i++) {
                Object item = items.get(i);
                if (!(item instanceof String name)) {
                    throw new ConfigException(at + "[" + i + "]", "expected a user name (a string)");
                }
                if (!users.containsKey(name)) {
                    throw new ConfigException(at + "[" + i + "]", "user \"" + name + "\" is not in pgproxy.users");
                }
                names.add(name);
            }
            return names;
        }

        private UserConfig user(String name) throws ConfigException {
            String at = path(ROOT, "users", name);
            checkName(at, name);
            checkKeys(at, object(at), USER_KEYS);
            String authPath = path(at, "auth");
            String passwordPath = path(at, "password");
            String password = config.hasPath(passwordPath) ? string(passwordPath) : null;
            String hint = "create one with `bin/pgproxy passwd " + name + "`";

            AuthMethod auth;
            if (config.hasPath(authPath)) {
                auth = authMethod(authPath);
            } else if (password == null) {
                throw new ConfigException(at, "needs a password (a SCRAM-SHA-256 verifier or md5 hash; "
                        + hint + ") or auth = trust");
            } else if (password.startsWith(SCRAM_PREFIX)) {
                auth = AuthMethod.SCRAM_SHA_256;
            } else if (password.startsWith("md5")) {
                auth = AuthMethod.MD5;
            } else {
                // Never echo the value: it is most likely a cleartext password.
                throw new ConfigException(passwordPath, "is neither a SCRAM-SHA-256 verifier nor an md5 hash; "
                        + "cleartext passwords are not accepted, " + hint);
            }

            switch (auth) {
                case TRUST -> {
                    if (password != null) {
                        throw new ConfigException(passwordPath, "must not be set when auth = trust");
                    }
                }
                case SCRAM_SHA_256 -> {
                    if (password == null) {
                        throw new ConfigException(passwordPath, "is required when auth = scram-sha-256; " + hint);
                    }
                    String problem = scramProblem(password);
                    if (problem != null) {
                        throw new ConfigException(passwordPath, "is not a valid SCRAM-SHA-256 verifier ("
                                + problem + "); " + hint);
                    }
                }
                case MD5 -> {
                    if (password == null) {
                        throw new ConfigException(passwordPath, "is required when auth = md5; " + hint);
                    }
                    if (!MD5.matcher(password).matches()) {
                        throw new ConfigException(passwordPath, "is not a valid md5 hash (expected \"md5\" followed by "
                                + "32 lowercase hex digits); " + hint);
                    }
                }
            }
            PoolMode mode = config.hasPath(path(at, "pool-mode")) ? poolMode(path(at, "pool-mode")) : null;
            String backendPassword = config.hasPath(path(at, "backend-password")) ? string(path(at, "backend-password")) : null;
            return new UserConfig(name, auth, password, mode, backendPassword);
        }

        /**
         * libpq's multi-host form: {@code host = "a,b"} and {@code port} one number for all or
         * {@code "5432,5433"}, one per host.
         */
        private List<HostAddress> hosts(String at) throws ConfigException {
            String[] names = nonEmptyString(path(at, "host")).split(",", -1);
            String[] ports;
            if (!config.hasPath(path(at, "port"))) {
                ports = new String[]{"5432"};
            } else if (valueOrNull(path(at, "port")).valueType() == ConfigValueType.NUMBER) {
                ports = new String[]{Long.toString(integer(path(at, "port"), 1, 65535))};
            } else {
                ports = string(path(at, "port")).split(",", -1);
            }
            if (ports.length != 1 && ports.length != names.length) {
                throw new ConfigException(path(at, "port"), "names " + ports.length + " ports for " + names.length
                        + " hosts: give one port for all, or one per host");
            }
            List<HostAddress> hosts = new java.util.ArrayList<>();
            for (int i = 0; i < names.length; i++) {
                String host = names[i].strip();
                if (host.isEmpty()) {
                    throw new ConfigException(path(at, "host"), "has an empty host name in \"" + string(path(at, "host")) + "\"");
                }
                String portText = ports[ports.length == 1 ? 0 : i].strip();
                int port;
                try {
                    port = Integer.parseInt(portText);
                } catch (NumberFormatException e) {
                    port = 0;
                }
                if (port < 1 || port > 65535) {
                    throw new ConfigException(path(at, "port"), "\"" + portText + "\" is not a port (1-65535)");
                }
                HostAddress h = new HostAddress(host, port);
                if (hosts.contains(h)) {
                    throw new ConfigException(path(at, "host"), "names " + h + " twice");
                }
                hosts.add(h);
            }
            return hosts;
        }

        private DatabaseConfig database(String name, PoolDefaults pool, BackendSettingsReader backend) throws ConfigException {
            String at = path(ROOT, "databases", name);
            checkName(at, name);
            checkKeys(at, object(at), DATABASE_KEYS);
            if (!config.hasPath(path(at, "host"))) {
                throw new ConfigException(path(at, "host"), "is required (the backend host name or address)");
            }
            List<HostAddress> hosts = hosts(at);
            String dbname = name;
            if (config.hasPath(path(at, "dbname"))) {
                dbname = string(path(at, "dbname"));
                checkName(path(at, "dbname"), dbname);
            }
            String user = null;
            if (config.hasPath(path(at, "user"))) {
                user = string(path(at, "user"));
                checkName(path(at, "user"), user);
            }
            String password = config.hasPath(path(at, "password")) ? string(path(at, "password")) : null;
            int poolSize = config.hasPath(path(at, "pool-size"))
                    ? (int) integer(path(at, "pool-size"), 1, MAX_POOL_SIZE) : pool.size();
            PoolMode mode = config.hasPath(path(at, "mode")) ? poolMode(path(at, "mode")) : pool.mode();
            ClientTlsMode clientTls = config.hasPath(path(at, "client-tls-mode"))
                    ? clientTlsMode(path(at, "client-tls-mode")) : null;
            TargetSessionAttrs attrs = TargetSessionAttrs.READ_WRITE;
            if (config.hasPath(path(at, "target-session-attrs"))) {
                attrs = TargetSessionAttrs.of(string(path(at, "target-session-attrs")));
                if (attrs == null) {
                    throw new ConfigException(path(at, "target-session-attrs"),
                            "must be read-write, standby, read-only or prefer-standby");
                }
            }
            boolean replay = config.hasPath(path(at, "transaction-replay"))
                    && bool(path(at, "transaction-replay"));
            return new DatabaseConfig(name, hosts, dbname, user, password, poolSize, mode, clientTls,
                    backend.tls(at), backend.requireAuth(at), attrs, replay);
        }
    }

    /**
     * Returns the problem with a SCRAM-SHA-256 verifier text, or null when it is well formed.
     * Only the shape is checked here; the auth package does the cryptography.
     */
    static String scramProblem(String text) {
        Matcher m = SCRAM.matcher(text);
        if (!m.matches()) {
            return "expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>";
        }
        long iterations = Long.parseLong(m.group(1));
        if (iterations < 1 || iterations > Integer.MAX_VALUE) {
            return "iteration count out of range";
        }
        byte[] salt = base64(m.group(2));
        if (salt == null || salt.length == 0) {
            return "salt is not valid base64";
        }
        byte[] storedKey = base64(m.group(3));
        byte[] serverKey = base64(m.group(4));
        if (storedKey == null || serverKey == null || storedKey.length != 32 || serverKey.length != 32) {
            return "StoredKey and ServerKey must be 32 bytes of base64";
        }
        return null;
    }

    private static byte[] base64(String s) {
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
