package io.pgproxy.backend;

import io.pgproxy.auth.ScramKeys;

/**
 * What the proxy can prove to a backend for one user, each null when missing: a cleartext
 * password (the database's or the user's backend password), SCRAM passthrough keys, the user's md5
 * hash. Secrets all: {@link #toString()} names only which ones there are.
 */
public record BackendCredentials(String password, ScramKeys scramKeys, String md5Hash) {
    public static final BackendCredentials NONE = new BackendCredentials(null, null, null);

    /** Only a password. */
    public static BackendCredentials password(String password) {
        return new BackendCredentials(password, null, null);
    }

    /** What there is, for messages: "a password", "SCRAM passthrough keys", "an md5 hash" or "nothing". */
    public String describe() {
        return password != null ? "a password" : scramKeys != null ? "SCRAM passthrough keys"
                : md5Hash != null ? "an md5 hash" : "nothing";
    }

    @Override
    public String toString() {
        return "BackendCredentials[" + describe() + "]";
    }
}
