package io.pgproxy.tls;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;

/**
 * A client's established TLS session, as authentication and the admin console see it.
 *
 * @param protocol          e.g. {@code TLSv1.3}
 * @param cipherSuite       e.g. {@code TLS_AES_256_GCM_SHA384}
 * @param peerCertificates  the client's verified chain, leaf first; empty when it sent none
 * @param serverEndPoint    {@code tls-server-end-point} channel binding data of the certificate
 *                          the proxy presented (RFC 5929), for SCRAM-SHA-256-PLUS
 */
public record ClientTls(String protocol, String cipherSuite, List<X509Certificate> peerCertificates,
                        byte[] serverEndPoint) {
    public ClientTls {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(cipherSuite, "cipherSuite");
        peerCertificates = List.copyOf(peerCertificates);
        serverEndPoint = serverEndPoint.clone();
    }

    @Override
    public byte[] serverEndPoint() {
        return serverEndPoint.clone();
    }

    /** The client certificate's subject CN, or null without a certificate or a CN. */
    public String peerCommonName() {
        return peerCertificates.isEmpty() ? null : Certificates.commonName(peerCertificates.getFirst());
    }

    /** PgBouncer's {@code SHOW CLIENTS} tls column: {@code TLSv1.3/TLS_AES_256_GCM_SHA384}. */
    public String describe() {
        return protocol + "/" + cipherSuite;
    }
}
