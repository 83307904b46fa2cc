package io.pgproxy.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * TLS towards clients (pgproxy.client-tls). Files are re-read on every reload, so a renewed
 * certificate at the same path is picked up by SIGHUP.
 *
 * @param certFile         the server certificate chain (PEM), null when TLS is off
 * @param keyFile          its private key (PEM: PKCS#8 or traditional, possibly encrypted)
 * @param keyPassphraseEnv the environment variable holding the key's passphrase, or null
 * @param caFile           CA certificates client certificates are verified against, or null
 * @param minVersion       TLSv1.2 or TLSv1.3
 * @param ciphers          JDK cipher suite names; empty for the JDK's defaults
 * @param direct           whether a connection may start with a TLS handshake (PostgreSQL 17's
 *                         sslnegotiation=direct, ALPN "postgresql") on the same port
 */
public record ClientTlsConfig(ClientTlsMode mode, Path certFile, Path keyFile, String keyPassphraseEnv, Path caFile,
                              String minVersion, List<String> ciphers, boolean direct) {
    public static final ClientTlsConfig DISABLED =
            new ClientTlsConfig(ClientTlsMode.DISABLE, null, null, null, null, "TLSv1.2", List.of(), true);

    public ClientTlsConfig {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(minVersion, "minVersion");
        ciphers = List.copyOf(ciphers);
        if (mode != ClientTlsMode.DISABLE && (certFile == null || keyFile == null)) {
            throw new IllegalArgumentException("a certificate and a key are needed unless the mode is disable");
        }
    }

    public boolean enabled() {
        return mode != ClientTlsMode.DISABLE;
    }
}
