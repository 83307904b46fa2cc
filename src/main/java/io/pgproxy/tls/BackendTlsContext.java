package io.pgproxy.tls;

import io.pgproxy.config.BackendTls;
import io.pgproxy.config.SslMode;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import java.util.Objects;

/**
 * One database's TLS towards its backend: the settings and the SSL context built once from their
 * files. Makes the engine of each new connection.
 */
public record BackendTlsContext(BackendTls settings, SSLContext context) {
    /** What PostgreSQL 17 requires for direct TLS and accepts after an SSLRequest. */
    public static final String ALPN = "postgresql";
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    public BackendTlsContext {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(context, "context");
    }

    /** A client-mode engine for {@code host:port}, with verify-full's host name check where asked. */
    public SSLEngine newEngine(String host, int port) {
        SSLEngine engine = context.createSSLEngine(host, port);
        engine.setUseClientMode(true);
        SSLParameters p = engine.getSSLParameters();
        p.setProtocols(PROTOCOLS);
        p.setApplicationProtocols(new String[] {ALPN});
        if (settings.mode() == SslMode.VERIFY_FULL) {
            // The JDK's HTTPS rules are RFC 2818/6125's: DNS names and IP addresses in the
            // subjectAltName (the CN only without one), as libpq checks them.
            p.setEndpointIdentificationAlgorithm("HTTPS");
        }
        engine.setSSLParameters(p);
        return engine;
    }
}
