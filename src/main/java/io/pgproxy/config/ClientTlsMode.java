package io.pgproxy.config;

/**
 * How the proxy takes TLS from clients, PgBouncer's client_tls_sslmode: {@code DISABLE} answers
 * every SSLRequest 'N'; {@code ALLOW} and {@code PREFER} accept TLS and plaintext alike;
 * {@code REQUIRE} refuses plaintext clients (28000); {@code VERIFY_CA} also needs a client
 * certificate signed by the configured CA; {@code VERIFY_FULL} also needs its CN to be the user
 * name (PostgreSQL's clientcert=verify-full).
 */
public enum ClientTlsMode {
    DISABLE,
    ALLOW,
    PREFER,
    REQUIRE,
    VERIFY_CA,
    VERIFY_FULL;

    public boolean requiresTls() {
        return compareTo(REQUIRE) >= 0;
    }

    public boolean requiresCertificate() {
        return compareTo(VERIFY_CA) >= 0;
    }

    /** The stricter of the two: a database can tighten the listener's mode, never loosen it. */
    public ClientTlsMode atLeast(ClientTlsMode other) {
        return other == null || compareTo(other) >= 0 ? this : other;
    }
}
