package io.pgproxy.tls;

import io.pgproxy.config.BackendTls;
import io.pgproxy.config.ConfigException;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.ProxyConfig;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The SSL contexts of one configuration snapshot's databases towards their backends, built once
 * when the snapshot is loaded (at start and at each reload) from the files it names. A file that
 * cannot be used refuses the snapshot with its key path, the file and the reason, so a reload with
 * a broken certificate keeps the previous material serving.
 */
public final class BackendTlsContexts {
    private final Map<BackendTls, BackendTlsContext> bySettings;

    private BackendTlsContexts(Map<BackendTls, BackendTlsContext> bySettings) {
        this.bySettings = Map.copyOf(bySettings);
    }

    /** Builds the contexts of every database of {@code config}; {@code env} reads environment variables. */
    public static BackendTlsContexts build(ProxyConfig config, UnaryOperator<String> env) throws ConfigException {
        Map<BackendTls, BackendTlsContext> built = new HashMap<>();
        for (DatabaseConfig d : config.databases().values()) {
            if (built.containsKey(d.tls())) {
                continue;
            }
            try {
                built.put(d.tls(), new BackendTlsContext(d.tls(), context(d.tls(), env)));
            } catch (TlsMaterialException e) {
                throw new ConfigException("pgproxy.databases." + d.name(), e.getMessage());
            }
        }
        return new BackendTlsContexts(built);
    }

    /** The context for a database's settings; they must have been part of the snapshot. */
    public BackendTlsContext get(BackendTls settings) {
        BackendTlsContext c = bySettings.get(settings);
        if (c == null) {
            throw new IllegalArgumentException("no backend TLS context for " + settings);
        }
        return c;
    }

    /** The current context for {@code settings}, or {@code fallback} when this snapshot has none. */
    public BackendTlsContext find(BackendTls settings, BackendTlsContext fallback) {
        return bySettings.getOrDefault(settings, fallback);
    }

    static SSLContext context(BackendTls tls, UnaryOperator<String> env) throws TlsMaterialException {
        TrustManager[] trust = tls.verifiesChain() ? trustManagers(tls.rootCert()) : new TrustManager[] {UNCHECKED};
        KeyManager[] keys = tls.cert() == null ? null : keyManagers(tls, env);
        try {
            SSLContext c = SSLContext.getInstance("TLS");
            c.init(keys, trust, null);
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no TLS", e);
        }
    }

    private static TrustManager[] trustManagers(Path rootCert) throws TlsMaterialException {
        if (BackendTls.SYSTEM_ROOTS.equals(rootCert)) {
            try {
                TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                f.init((KeyStore) null);
                return f.getTrustManagers();
            } catch (GeneralSecurityException e) {
                throw new TlsMaterialException(rootCert, "cannot use the JDK's trusted certificate authorities: "
                        + e.getMessage(), e);
            }
        }
        List<X509Certificate> cas = PemFiles.certificates(rootCert);
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            for (int i = 0; i < cas.size(); i++) {
                store.setCertificateEntry("ca" + i, cas.get(i));
            }
            TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            f.init(store);
            return f.getTrustManagers();
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new TlsMaterialException(rootCert, "cannot use the CA certificates: " + e.getMessage(), e);
        }
    }

    private static KeyManager[] keyManagers(BackendTls tls, UnaryOperator<String> env) throws TlsMaterialException {
        char[] passphrase = null;
        if (tls.keyPassphraseEnv() != null) {
            String value = env.apply(tls.keyPassphraseEnv());
            if (value == null) {
                throw new TlsMaterialException(tls.key(), "the passphrase variable " + tls.keyPassphraseEnv()
                        + " (sslkey-passphrase-env) is not set in the environment", null);
            }
            passphrase = value.toCharArray();
        }
        List<X509Certificate> chain = PemFiles.certificates(tls.cert());
        KeyFilePermissions.check(tls.key());
        PrivateKey key = PemFiles.privateKey(tls.key(), passphrase);
        try {
            char[] storePassword = new char[0];
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("client", key, storePassword, chain.toArray(X509Certificate[]::new));
            KeyManagerFactory f = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            f.init(store, storePassword);
            return f.getKeyManagers();
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new TlsMaterialException(tls.cert(), "the certificate does not go with " + tls.key()
                    + ": " + e.getMessage(), e);
        } finally {
            if (passphrase != null) {
                java.util.Arrays.fill(passphrase, '\0');
            }
        }
    }

    /**
     * sslmode prefer and require without a root CA, as in libpq: encryption without any check of
     * who is at the other end. Extended, so the JDK adds no checks of its own around it.
     */
    private static final X509ExtendedTrustManager UNCHECKED = new X509ExtendedTrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };
}
