package io.pgproxy.auth;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * What SCRAM passthrough logs in to a backend with, instead of a password: the ClientKey taken
 * from a client's proof and the verifier it was checked against (ServerKey, salt, iterations).
 * Password-equivalent for that verifier, so it lives in memory only and never prints.
 */
public final class ScramKeys {
    private final byte[] clientKey;
    private final ScramVerifier verifier;

    /** @throws IllegalArgumentException when {@code clientKey} does not hash to the verifier's StoredKey */
    public ScramKeys(byte[] clientKey, ScramVerifier verifier) {
        this.verifier = Objects.requireNonNull(verifier, "verifier");
        Objects.requireNonNull(clientKey, "clientKey");
        if (!MessageDigest.isEqual(ScramCrypto.sha256(clientKey), verifier.storedKey())) {
            throw new IllegalArgumentException("the ClientKey does not belong to the verifier");
        }
        this.clientKey = clientKey.clone();
    }

    byte[] clientKey() {
        return clientKey.clone();
    }

    ScramVerifier verifier() {
        return verifier;
    }

    /** Whether these keys were taken from {@code other}'s verifier (same salt, iterations and keys). */
    public boolean matches(ScramVerifier other) {
        return other.iterations() == verifier.iterations() && Arrays.equals(other.salt(), verifier.salt())
                && MessageDigest.isEqual(other.storedKey(), verifier.storedKey())
                && MessageDigest.isEqual(other.serverKey(), verifier.serverKey());
    }

    @Override
    public String toString() {
        return "ScramKeys[<redacted>]";
    }
}
