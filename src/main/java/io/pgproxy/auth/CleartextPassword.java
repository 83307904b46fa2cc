package io.pgproxy.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Checks a password a client sent in cleartext (pg_hba's {@code password} method) against what
 * the proxy stores, never the password itself: a SCRAM-SHA-256 verifier (the password is salted
 * and hashed as the verifier was) or an md5 hash (hashed with the user name).
 */
public final class CleartextPassword {
    private CleartextPassword() {
    }

    /** Whether {@code password} is the one behind {@code secret}, the verifier or md5 hash of {@code user}. */
    public static boolean matches(String secret, String user, String password) {
        if (secret == null || password == null) {
            return false;
        }
        if (Md5Password.isMd5Hash(secret)) {
            return MessageDigest.isEqual(Md5Password.hash(user, password).getBytes(StandardCharsets.US_ASCII),
                    secret.getBytes(StandardCharsets.US_ASCII));
        }
        ScramVerifier stored;
        try {
            stored = ScramVerifier.parse(secret);
        } catch (IllegalArgumentException e) {
            return false;
        }
        ScramVerifier offered = ScramVerifier.fromPassword(password, stored.iterations(), stored.salt());
        // Both keys, compared in constant time: a match on StoredKey alone is what a forged verifier could aim for.
        return MessageDigest.isEqual(offered.storedKey(), stored.storedKey())
                & MessageDigest.isEqual(offered.serverKey(), stored.serverKey());
    }
}
