package io.pgproxy.tls;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Locale;

/** What authentication needs from an X.509 certificate. */
public final class Certificates {
    private Certificates() {
    }

    /** The subject's CN (the last one, as PostgreSQL takes it), or null when it has none. */
    public static String commonName(X509Certificate certificate) {
        try {
            String cn = null;
            for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    cn = String.valueOf(rdn.getValue());
                }
            }
            return cn;
        } catch (InvalidNameException e) {
            return null;
        }
    }

    /**
     * RFC 5929 {@code tls-server-end-point}: the certificate hashed with its signature's hash
     * algorithm, SHA-256 when that is MD5 or SHA-1 (what PostgreSQL and pgjdbc compute).
     */
    public static byte[] tlsServerEndPoint(X509Certificate certificate) {
        String sig = certificate.getSigAlgName().toUpperCase(Locale.ROOT);
        String hash;
        if (sig.startsWith("SHA384") || sig.contains("WITHSHA384")) {
            hash = "SHA-384";
        } else if (sig.startsWith("SHA512") || sig.contains("WITHSHA512")) {
            hash = "SHA-512";
        } else {
            // SHA-224/256, MD5 and SHA-1 (upgraded to SHA-256 by the RFC), and Ed25519 & co.,
            // which name no hash and for which PostgreSQL also falls back to SHA-256.
            hash = sig.startsWith("SHA224") ? "SHA-224" : "SHA-256";
        }
        try {
            return MessageDigest.getInstance(hash).digest(certificate.getEncoded());
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            throw new IllegalStateException("cannot hash the certificate for channel binding", e);
        }
    }
}
