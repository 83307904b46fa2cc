package io.pgproxy.config;

import java.nio.file.Path;
import java.util.Set;

/**
 * Reads how the proxy connects to backends: the defaults under {@code pgproxy.backend} and each
 * database's own values of the same keys, merged per database. Only the shape is checked here;
 * whether the files hold usable certificates is for the TLS layer when it builds its contexts.
 */
final class BackendSettingsReader {
    /** Under {@code pgproxy.backend}, and allowed in each database to override it. */
    static final Set<String> KEYS = Set.of("sslmode", "sslnegotiation", "sslrootcert", "sslcert", "sslkey",
            "sslkey-passphrase-env", "require-auth");

    private final ConfigValues values;
    private final String defaults;

    BackendSettingsReader(ConfigValues values, String defaults) {
        this.values = values;
        this.defaults = defaults;
    }

    void checkDefaults() throws ConfigException {
        values.checkKeys(defaults, values.object(defaults), KEYS);
        tls(defaults);
        requireAuth(defaults);
    }

    /** The backend TLS of the database at {@code at}: its own keys over the defaults. */
    BackendTls tls(String at) throws ConfigException {
        String modeAt = pick(at, "sslmode");
        SslMode mode = sslMode(modeAt);
        String negotiationAt = pick(at, "sslnegotiation");
        SslNegotiation negotiation = sslNegotiation(negotiationAt);
        Path rootCert = file(pick(at, "sslrootcert"));
        Path cert = file(pick(at, "sslcert"));
        Path key = file(pick(at, "sslkey"));
        String passAt = pick(at, "sslkey-passphrase-env");
        String passEnv = values.string(passAt).trim();
        if ((cert == null) != (key == null)) {
            // Named where it is missing: in the database (or the defaults) being read.
            throw new ConfigException(ConfigValues.path(at, cert == null ? "sslcert" : "sslkey"),
                    "sslcert and sslkey go together (a client certificate and its private key)");
        }
        if (!passEnv.isEmpty() && !passEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            // The most likely mistake is the passphrase itself in this key: never echo it.
            throw new ConfigException(passAt, "must be the name of an environment variable holding the key's "
                    + "passphrase (letters, digits, _), not the passphrase");
        }
        if ((mode == SslMode.VERIFY_CA || mode == SslMode.VERIFY_FULL) && rootCert == null) {
            throw new ConfigException(ConfigValues.path(at, "sslrootcert"), "is required with sslmode = " + mode.libpqName()
                    + " (the CA certificates the backend's certificate must chain to)");
        }
        if (BackendTls.SYSTEM_ROOTS.equals(rootCert) && mode != SslMode.VERIFY_FULL) {
            // As libpq: any public CA can sign a certificate for some name; only the name check makes it safe.
            throw new ConfigException(modeAt, "must be verify-full with sslrootcert = system, was " + mode.libpqName());
        }
        if (negotiation == SslNegotiation.DIRECT && !mode.requiresTls()) {
            // libpq refuses it too: a weaker mode could fall back to plaintext on a backend without direct TLS.
            throw new ConfigException(negotiationAt, "direct needs sslmode = require, verify-ca or verify-full, was "
                    + mode.libpqName());
        }
        return new BackendTls(mode, negotiation, rootCert, cert, key, passEnv.isEmpty() ? null : passEnv);
    }

    RequireAuth requireAuth(String at) throws ConfigException {
        String where = pick(at, "require-auth");
        StringBuilder problem = new StringBuilder();
        RequireAuth r = RequireAuth.parse(values.string(where), problem);
        if (r == null) {
            throw new ConfigException(where, problem.toString());
        }
        return r;
    }

    /** The database's own key when it has one, else the default's. */
    private String pick(String at, String key) {
        String own = ConfigValues.path(at, key);
        return values.config.hasPath(own) ? own : ConfigValues.path(defaults, key);
    }

    private Path file(String at) throws ConfigException {
        String s = values.string(at).trim();
        return s.isEmpty() ? null : Path.of(s);
    }

    private SslMode sslMode(String at) throws ConfigException {
        String s = values.string(at);
        for (SslMode m : SslMode.values()) {
            if (m.libpqName().equals(ConfigValues.normalize(s))) {
                return m;
            }
        }
        throw new ConfigException(at, "must be disable, allow, prefer, require, verify-ca or verify-full, was \"" + s + "\"");
    }

    private SslNegotiation sslNegotiation(String at) throws ConfigException {
        String s = values.string(at);
        return switch (ConfigValues.normalize(s)) {
            case "postgres" -> SslNegotiation.POSTGRES;
            case "direct" -> SslNegotiation.DIRECT;
            default -> throw new ConfigException(at, "must be postgres or direct, was \"" + s + "\"");
        };
    }
}
