package io.pgproxy.tls;

import io.pgproxy.fixtures.TestPki;
import io.pgproxy.fixtures.TestPki.KeyFormat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PemFilesTest {
    private static final char[] PASSPHRASE = "correct horse".toCharArray();

    @TempDir
    static Path dir;
    static TestPki pki;

    @BeforeAll
    static void ca() {
        pki = TestPki.create(dir, "pem-test");
    }

    @ParameterizedTest
    @EnumSource(KeyFormat.class)
    void readsEveryKeyFormOpenSslWrites(KeyFormat format) throws Exception {
        for (String algorithm : List.of("RSA", "EC")) {
            TestPki.Issued issued = pki.issue("k-" + format + "-" + algorithm, "localhost", List.of("localhost"),
                    Instant.now().plus(1, ChronoUnit.DAYS), format, PASSPHRASE, algorithm);
            boolean encrypted = format.name().endsWith("ENCRYPTED");
            var key = PemFiles.privateKey(issued.key(), encrypted ? PASSPHRASE : null);
            assertEquals(algorithm.equals("EC") ? "EC" : "RSA", key.getAlgorithm());
            assertTrue(signsFor(key, issued.x509()), format + " " + algorithm);
            assertEquals(issued.x509(), PemFiles.certificates(issued.certificate()).getFirst());
        }
    }

    @Test
    void anEncryptedKeyWithoutOrWithAWrongPassphraseNamesTheFileNotTheSecret() {
        TestPki.Issued issued = pki.server("enc", KeyFormat.PKCS8_ENCRYPTED, PASSPHRASE, "localhost");
        TlsMaterialException none = assertThrows(TlsMaterialException.class, () -> PemFiles.privateKey(issued.key(), null));
        assertTrue(none.getMessage().startsWith(issued.key().toString()), none.getMessage());
        assertTrue(none.getMessage().contains("no passphrase"), none.getMessage());
        TlsMaterialException wrong = assertThrows(TlsMaterialException.class,
                () -> PemFiles.privateKey(issued.key(), "wrong".toCharArray()));
        assertTrue(wrong.getMessage().contains("wrong passphrase"), wrong.getMessage());
        TestPki.Issued traditional = pki.server("enc-trad", KeyFormat.TRADITIONAL_ENCRYPTED, PASSPHRASE, "localhost");
        assertThrows(TlsMaterialException.class, () -> PemFiles.privateKey(traditional.key(), "wrong".toCharArray()));
    }

    @Test
    void aFileWithoutPemMaterialIsRefusedWithItsPath() throws Exception {
        Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a pem file\n");
        TlsMaterialException e = assertThrows(TlsMaterialException.class, () -> PemFiles.certificates(garbage));
        assertTrue(e.getMessage().startsWith(garbage.toString()), e.getMessage());
        assertThrows(TlsMaterialException.class, () -> PemFiles.privateKey(garbage, null));
        assertThrows(TlsMaterialException.class, () -> PemFiles.certificates(dir.resolve("missing.pem")));
    }

    @Test
    void aCaFileMayHoldAChain() throws Exception {
        Path chain = dir.resolve("chain.pem");
        TestPki.Issued leaf = pki.server("leaf", KeyFormat.PKCS8, null, "localhost");
        Files.writeString(chain, Files.readString(leaf.certificate()) + Files.readString(pki.caFile()));
        assertEquals(List.of(leaf.x509(), pki.ca()), PemFiles.certificates(chain));
    }

    @Test
    void channelBindingHashesTheCertificateWithItsSignatureHashAndReadsTheCommonName() throws Exception {
        TestPki.Issued client = pki.client("cn", "alice");
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(client.x509().getEncoded()),
                Certificates.tlsServerEndPoint(client.x509()));
        assertEquals("alice", Certificates.commonName(client.x509()));
    }

    /** The key read is the certificate's: what it signs, the certificate's public key verifies. */
    private static boolean signsFor(java.security.PrivateKey key, java.security.cert.X509Certificate cert) throws Exception {
        String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        java.security.Signature s = java.security.Signature.getInstance(alg);
        s.initSign(key);
        s.update(new byte[] {1, 2, 3});
        byte[] sig = s.sign();
        java.security.Signature v = java.security.Signature.getInstance(alg);
        v.initVerify(cert.getPublicKey());
        v.update(new byte[] {1, 2, 3});
        return v.verify(sig);
    }
}
