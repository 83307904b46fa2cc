package io.pgproxy.tls;

import io.pgproxy.buffer.BufferPool;
import io.pgproxy.config.ClientTlsConfig;
import io.pgproxy.config.ClientTlsMode;
import tlschannel.ServerTlsChannel;
import tlschannel.TlsChannel;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

/**
 * The proxy's TLS towards clients, built once per configuration snapshot from PEM files: the
 * SSLContext, the engine settings (versions, ciphers, ALPN "postgresql") and the verification of
 * client certificates. A client certificate is verified after the handshake rather than during
 * it, so that a bad one is refused with an ErrorResponse and SQLSTATE 28000 over the
 * established channel, not with a bare TLS alert.
 */
public final class ServerTls {
    /** PostgreSQL 17's ALPN protocol name, required on direct TLS connections. */
    public static final String ALPN = "postgresql";
    /** Bounds what the pool keeps, not what it hands out: a burst beyond it allocates and drops. */
    private static final int MAX_POOLED_BUFFERS = 512;

    static {
        // No TLS 1.3 session tickets, as PostgreSQL sends none (it turns resumption off): libpq
        // never resumes a session, so each ticket was an encryption and a record per login for
        // nothing. Read once by the JDK's TLS configuration, so set before the first SSLContext;
        // an operator's own -D value wins.
        if (System.getProperty("jdk.tls.server.newSessionTicketCount") == null) {
            System.setProperty("jdk.tls.server.newSessionTicketCount", "0");
        }
    }

    private final ClientTlsConfig config;
    private final SSLContext context;
    private final X509TrustManager clientVerifier;
    private final byte[] serverEndPoint;
    private final String[] protocols;
    private final BufferPool buffers;

    private ServerTls(ClientTlsConfig config, SSLContext context, X509TrustManager clientVerifier,
                      byte[] serverEndPoint) {
        this.config = config;
        this.context = context;
        this.clientVerifier = clientVerifier;
        this.serverEndPoint = serverEndPoint;
        this.protocols = config.minVersion().equals("TLSv1.3")
                ? new String[] {"TLSv1.3"} : new String[] {"TLSv1.3", "TLSv1.2"};
        javax.net.ssl.SSLSession s = newEngine().getSession();
        this.buffers = new BufferPool(Math.max(s.getPacketBufferSize(), s.getApplicationBufferSize()), MAX_POOLED_BUFFERS);
    }

    /** Reads the files of {@code config}; null when TLS is disabled. */
    public static ServerTls load(ClientTlsConfig config) throws TlsMaterialException {
        if (!config.enabled()) {
            return null;
        }
        List<X509Certificate> chain = PemFiles.certificates(config.certFile());
        PrivateKey key = PemFiles.privateKey(config.keyFile(), passphrase(config));
        X509TrustManager verifier = null;
        List<X509Certificate> authorities = List.of();
        if (config.caFile() != null) {
            authorities = PemFiles.certificates(config.caFile());
            verifier = trustManager(config.caFile(), authorities);
        }
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("server", key, new char[0], chain.toArray(Certificate[]::new));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, new char[0]);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(),
                    new TrustManager[] {new HandshakeTrustManager(authorities.toArray(X509Certificate[]::new))}, null);
            // Unknown cipher names fail here, in the reload, not at the first client.
            return new ServerTls(config, context, verifier, Certificates.tlsServerEndPoint(chain.getFirst()));
        } catch (GeneralSecurityException | IOException | IllegalArgumentException e) {
            throw new TlsMaterialException(config.keyFile(), "does not make a usable TLS key with "
                    + config.certFile() + ": " + e.getMessage(), e);
        }
    }

    public ClientTlsMode mode() {
        return config.mode();
    }

    /** Whether a connection may start with a TLS handshake instead of an SSLRequest. */
    public boolean direct() {
        return config.direct();
    }

    /**
     * Runs the server side of a TLS handshake over {@code raw} on the calling thread. For a
     * direct connection the client must have chosen ALPN "postgresql", as PostgreSQL insists.
     */
    public Established handshake(ReadAheadChannel raw, boolean direct) throws IOException {
        PooledTlsBuffers connectionBuffers = new PooledTlsBuffers(buffers);
        TlsChannel tls = ServerTlsChannel.newBuilder(raw, context)
                .withEngineFactory(c -> newEngine())
                .withPlainBufferAllocator(connectionBuffers)
                .withEncryptedBufferAllocator(connectionBuffers)
                .build();
        tls.handshake();
        SSLEngine engine = tls.getSslEngine();
        if (direct && !ALPN.equals(engine.getApplicationProtocol())) {
            tls.close();
            throw new IOException("direct TLS connection without ALPN \"" + ALPN + "\"");
        }
        List<X509Certificate> peer = List.of();
        String problem = null;
        try {
            Certificate[] certs = engine.getSession().getPeerCertificates();
            List<X509Certificate> chain = new ArrayList<>(certs.length);
            for (Certificate c : certs) {
                chain.add((X509Certificate) c);
            }
            problem = verify(chain);
            if (problem == null) {
                peer = chain;
            }
        } catch (SSLPeerUnverifiedException none) {
            // No client certificate: fine unless the mode or the auth method needs one.
        }
        ClientTls info = new ClientTls(engine.getSession().getProtocol(), engine.getSession().getCipherSuite(), peer,
                serverEndPoint);
        return new Established(new ClientTlsChannel(tls, raw, connectionBuffers), info, problem);
    }

    /**
     * A finished handshake.
     *
     * @param certificateProblem why the client's certificate was not accepted, or null when it
     *                           was or when the client sent none
     */
    public record Established(ClientTlsChannel channel, ClientTls info, String certificateProblem) {
    }

    private String verify(List<X509Certificate> chain) {
        if (clientVerifier == null) {
            return "no CA is configured to verify client certificates (pgproxy.client-tls.ca-file)";
        }
        try {
            clientVerifier.checkClientTrusted(chain.toArray(X509Certificate[]::new),
                    chain.getFirst().getPublicKey().getAlgorithm());
            return null;
        } catch (CertificateException e) {
            return e.getMessage();
        }
    }

    private SSLEngine newEngine() {
        SSLEngine engine = context.createSSLEngine();
        engine.setUseClientMode(false);
        SSLParameters p = engine.getSSLParameters();
        p.setProtocols(protocols);
        if (!config.ciphers().isEmpty()) {
            p.setCipherSuites(config.ciphers().toArray(String[]::new));
        }
        p.setApplicationProtocols(new String[] {ALPN});
        if (config.caFile() != null) {
            p.setWantClientAuth(true);
        }
        engine.setSSLParameters(p);
        return engine;
    }

    private static char[] passphrase(ClientTlsConfig config) throws TlsMaterialException {
        String env = config.keyPassphraseEnv();
        if (env == null) {
            return null;
        }
        String value = System.getenv(env);
        if (value == null) {
            throw new TlsMaterialException(config.keyFile(), "the passphrase variable " + env + " is not set", null);
        }
        return value.toCharArray();
    }

    private static X509TrustManager trustManager(Path file, List<X509Certificate> authorities)
            throws TlsMaterialException {
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            for (int i = 0; i < authorities.size(); i++) {
                store.setCertificateEntry("ca" + i, authorities.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    return x;
                }
            }
            throw new TlsMaterialException(file, "no X.509 trust manager for these certificates", null);
        } catch (GeneralSecurityException | IOException e) {
            throw new TlsMaterialException(file, "cannot use as a CA file: " + e.getMessage(), e);
        }
    }

    /**
     * Takes any client certificate during the handshake (it is verified right after) and names
     * the configured CAs as acceptable issuers, so clients pick the right certificate.
     */
    private record HandshakeTrustManager(X509Certificate[] authorities) implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            // Verified after the handshake, see ServerTls#verify.
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("the proxy is the server here");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return authorities.clone();
        }
    }
}
