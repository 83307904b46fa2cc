package io.pgproxy.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * TLS from the proxy to one database's backend, with libpq's meanings. The files are PEM; the key's
 * passphrase is never in the configuration, only the name of the environment variable holding it.
 *
 * @param rootCert           CA certificates the backend's chain must lead to; null for none
 * @param cert               the proxy's client certificate (chain) for the backend; null for none
 * @param key                the private key of {@code cert}; null exactly when {@code cert} is
 * @param keyPassphraseEnv   environment variable holding {@code key}'s passphrase; null for an unencrypted key
 */
public record BackendTls(SslMode mode, SslNegotiation negotiation, Path rootCert, Path cert, Path key,
                         String keyPassphraseEnv) {
    /** libpq's and PgBouncer's default: TLS when offered, nothing checked. */
    public static final BackendTls DEFAULT = new BackendTls(SslMode.PREFER, SslNegotiation.POSTGRES, null, null, null, null);
    /** libpq's {@code sslrootcert=system}: the certificate authorities the JDK trusts. */
    public static final Path SYSTEM_ROOTS = Path.of("system");

    public BackendTls {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(negotiation, "negotiation");
        if ((cert == null) != (key == null)) {
            throw new IllegalArgumentException("a client certificate needs its key and the reverse");
        }
    }

    /** Whether the backend's chain is checked against {@link #rootCert}: libpq checks it under require too when one is given. */
    public boolean verifiesChain() {
        return mode == SslMode.VERIFY_CA || mode == SslMode.VERIFY_FULL || (mode == SslMode.REQUIRE && rootCert != null);
    }
}
