package io.pgproxy.config;

/**
 * libpq's {@code sslmode} for the proxy's connections to a backend: how hard TLS is insisted on
 * and how much of the backend's certificate is checked.
 */
public enum SslMode {
    /** Plaintext only. */
    DISABLE,
    /** Plaintext first; TLS only when the backend refuses the plaintext login. */
    ALLOW,
    /** TLS when the backend offers it, else plaintext; the certificate is not checked. */
    PREFER,
    /** TLS or no connection; the certificate is not checked (unless a root CA is configured, as in libpq). */
    REQUIRE,
    /** TLS with a certificate chained to the configured root CA. */
    VERIFY_CA,
    /** As verify-ca, and the certificate must name the host connected to. */
    VERIFY_FULL;

    /** Whether a connection without TLS is refused. */
    public boolean requiresTls() {
        return this == REQUIRE || this == VERIFY_CA || this == VERIFY_FULL;
    }

    /** The libpq spelling, e.g. {@code verify-full}. */
    public String libpqName() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
