package io.pgproxy.config;

import java.util.Objects;

/**
 * A client user. {@code secret} is the SCRAM-SHA-256 verifier or the md5 hash, {@code null} for
 * {@link AuthMethod#TRUST}. {@code backendPassword} is the user's own password for backends
 * (cleartext, usually from the environment), or null.
 */
public record UserConfig(String name, AuthMethod auth, String secret, PoolMode mode, String backendPassword) {
    public UserConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(auth, "auth");
    }

    /** A user without a backend password of its own. */
    public UserConfig(String name, AuthMethod auth, String secret, PoolMode mode) {
        this(name, auth, secret, mode, null);
    }

    /** A user whose pool mode is the database's (or the default). */
    public UserConfig(String name, AuthMethod auth, String secret) {
        this(name, auth, secret, null);
    }

    // A verifier is not a password, but it allows an offline dictionary attack, so it stays out of logs.
    @Override
    public String toString() {
        return "UserConfig[name=" + name + ", auth=" + auth + ", secret=" + (secret == null ? "null" : "<redacted>")
                + ", mode=" + mode + ", backendPassword=" + (backendPassword == null ? "null" : "<redacted>") + "]";
    }
}
