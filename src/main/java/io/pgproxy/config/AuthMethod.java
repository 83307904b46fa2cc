package io.pgproxy.config;

/**
 * How the proxy authenticates a client, named as in pg_hba.conf. A user's own {@code auth} key
 * takes only {@link #SCRAM_SHA_256}, {@link #MD5} and {@link #TRUST}; the other methods exist
 * only in {@code hba} rules, since they depend on the connection (TLS, certificate) or refuse it.
 */
public enum AuthMethod {
    SCRAM_SHA_256("scram-sha-256"),
    MD5("md5"),
    TRUST("trust"),
    /** pg_hba's {@code reject}: refused with 28000 before any exchange. */
    REJECT("reject"),
    /** pg_hba's {@code password}: the password in cleartext, checked against the stored verifier or hash. */
    PASSWORD("password"),
    /** SCRAM with tls-server-end-point channel binding only (libpq's channel_binding=require, enforced by the server). */
    SCRAM_SHA_256_PLUS("scram-sha-256-plus"),
    /** The client certificate's CN, or a name mapped from it, must be the user. */
    CERT("cert");

    private final String configName;

    AuthMethod(String configName) {
        this.configName = configName;
    }

    /** The name in the configuration and in pg_hba.conf, e.g. {@code scram-sha-256}. */
    public String configName() {
        return configName;
    }
}
