package io.pgproxy.tls;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

/**
 * Certificates and private keys from PEM files, in the forms OpenSSL writes and PostgreSQL and
 * PgBouncer read: {@code CERTIFICATE} chains, PKCS#8 keys ({@code PRIVATE KEY}, {@code ENCRYPTED
 * PRIVATE KEY}) and the traditional RSA/EC keys, encrypted ({@code Proc-Type: 4,ENCRYPTED}) or
 * not. Every failure names the file and the reason, never the key or the passphrase.
 */
public final class PemFiles {
    /** OpenSSL's key derivations are not in the JDK; used here only, never installed JVM-wide. */
    private static final Provider BC = new BouncyCastleProvider();

    private PemFiles() {
    }

    /** The certificates of {@code file}, in file order (leaf first for a chain); at least one. */
    public static List<X509Certificate> certificates(Path file) throws TlsMaterialException {
        List<X509Certificate> out = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser pem = new PEMParser(r)) {
            Object o;
            while ((o = pem.readObject()) != null) {
                if (o instanceof X509CertificateHolder holder) {
                    out.add(converter.getCertificate(holder));
                }
            }
        } catch (IOException | CertificateException e) {
            throw new TlsMaterialException(file, "cannot read certificates: " + reason(e), e);
        }
        if (out.isEmpty()) {
            throw new TlsMaterialException(file, "no PEM certificate in the file", null);
        }
        return out;
    }

    /**
     * The private key of {@code file}.
     *
     * @param passphrase for an encrypted key; null when none is configured
     */
    public static PrivateKey privateKey(Path file, char[] passphrase) throws TlsMaterialException {
                try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser pem = new PEMParser(r)) {
            Object o;
            while ((o = pem.readObject()) != null) {
                switch (o) {
                    case PrivateKeyInfo info -> {
                        return jdkKey(info);
                    }
                    case PEMKeyPair pair -> {
                        return jdkKey(pair.getPrivateKeyInfo());
                    }
                    case PKCS8EncryptedPrivateKeyInfo encrypted -> {
                        requirePassphrase(file, passphrase);
                        return jdkKey(encrypted.decryptPrivateKeyInfo(
                                new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(BC).build(passphrase)));
                    }
                    case PEMEncryptedKeyPair encrypted -> {
                        requirePassphrase(file, passphrase);
                        return jdkKey(encrypted.decryptKeyPair(
                                new JcePEMDecryptorProviderBuilder().setProvider(BC).build(passphrase)).getPrivateKeyInfo());
                    }
                    default -> {
                        // Parameters (EC PARAMETERS) or certificates next to the key: skip.
                    }
                }
            }
        } catch (PKCSException | OperatorCreationException e) {
            throw new TlsMaterialException(file, "cannot decrypt the private key (wrong passphrase?)", e);
        } catch (PEMException e) {
            throw new TlsMaterialException(file, "cannot read the private key: " + reason(e)
                    + (passphrase != null ? " (wrong passphrase?)" : ""), e);
        } catch (IOException e) {
            throw new TlsMaterialException(file, "cannot read the private key: " + reason(e), e);
        }
        throw new TlsMaterialException(file, "no PEM private key in the file", null);
    }

    private static PrivateKey jdkKey(PrivateKeyInfo info) throws PEMException {
        return new JcaPEMKeyConverter().getPrivateKey(info);
    }

    private static void requirePassphrase(Path file, char[] passphrase) throws TlsMaterialException {
        if (passphrase == null) {
            throw new TlsMaterialException(file, "the private key is encrypted and no passphrase is configured", null);
        }
    }

    private static String reason(Exception e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }
}
