package io.pgproxy.client;

import io.pgproxy.config.AuthConfig;
import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.AuthRule;
import io.pgproxy.config.ConfigLoader;
import io.pgproxy.config.UserConfig;
import io.pgproxy.fixtures.TestPki;
import io.pgproxy.pool.RefusalReason;
import io.pgproxy.tls.Certificates;
import io.pgproxy.tls.ClientTls;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The login decisions that need no exchange, with TLS sessions built here from test-time
 * certificates: rules and their PostgreSQL wording, the method per user, what each method
 * needs of the transport, the SASL mechanisms offered, and cert's name check with and without a map.
 */
class AuthPolicyTest {
    private static final InetAddress CLIENT = InetAddress.ofLiteral("192.0.2.10");
    private static final UserLookup.Known SCRAM_USER = new UserLookup.Known(
            new UserConfig("alice", AuthMethod.SCRAM_SHA_256, "SCRAM-SHA-256$4096:c2FsdA==$a:b"));
    private static final UserLookup.Known MD5_USER = new UserLookup.Known(
            new UserConfig("bob", AuthMethod.MD5, "md5" + "0".repeat(32)));
    private static final UserLookup.Known TRUST_USER = new UserLookup.Known(new UserConfig("carol", AuthMethod.TRUST, null));

    static ClientTls aliceCert;
    static ClientTls noCert;
    static ClientTls noCnCert;

    @BeforeAll
    static void certificates(@TempDir Path dir) {
        TestPki pki = TestPki.create(dir, "policy-ca");
        TestPki.Issued server = pki.server("server", TestPki.KeyFormat.PKCS8, null, "localhost");
        byte[] endPoint = Certificates.tlsServerEndPoint(server.x509());
        aliceCert = new ClientTls("TLSv1.3", "TLS_AES_128_GCM_SHA256", List.of(pki.client("alice", "alice.example.com").x509()), endPoint);
        noCert = new ClientTls("TLSv1.3", "TLS_AES_128_GCM_SHA256", List.of(), endPoint);
        noCnCert = new ClientTls("TLSv1.3", "TLS_AES_128_GCM_SHA256",
                List.of(pki.issue("nocn", "", List.of(), java.time.Instant.now().plusSeconds(3600), TestPki.KeyFormat.PKCS8,
                        null, "RSA").x509()), endPoint);
    }

    private static AuthConfig auth(String hba) throws Exception {
        return ConfigLoader.parse("pgproxy.ident-maps { certs = [ { system-user = \"alice.example.com\", user = alice } ] }\n"
                + "pgproxy.hba = " + hba).auth();
    }

    private static ClientRefusedException refused(org.junit.jupiter.api.function.Executable e) {
        return assertThrows(ClientRefusedException.class, e);
    }

    @Test
    void withoutRulesThereIsNoRuleAndEachUserKeepsItsOwnMethod() throws Exception {
        assertNull(AuthPolicy.rule(AuthConfig.NONE, "app", "alice", CLIENT, null));
        assertEquals(AuthMethod.SCRAM_SHA_256, AuthPolicy.method(null, SCRAM_USER));
        assertEquals(AuthMethod.MD5, AuthPolicy.method(null, MD5_USER));
        assertEquals(AuthMethod.TRUST, AuthPolicy.method(null, TRUST_USER));
        assertEquals(AuthMethod.SCRAM_SHA_256, AuthPolicy.method(null, new UserLookup.Unknown("x")), "the mock exchange");
        assertEquals(AuthMethod.SCRAM_SHA_256, AuthPolicy.method(null, new UserLookup.WithoutSecret("x")));
    }

    @Test
    void noCoveringRuleIsRefusedInPostgresWords() throws Exception {
        AuthConfig a = auth("[ { type = hostssl, method = md5 } ]");
        ClientRefusedException plain = refused(() -> AuthPolicy.rule(a, "app", "alice", CLIENT, null));
        assertEquals("28000", plain.sqlState());
        assertEquals(RefusalReason.NO_HBA_ENTRY, plain.reason());
        assertEquals("no pg_hba.conf entry for host \"192.0.2.10\", user \"alice\", database \"app\", no encryption",
                plain.getMessage());
        AuthConfig ssl = auth("[ { type = hostnossl, method = md5 } ]");
        assertEquals("no pg_hba.conf entry for host \"192.0.2.10\", user \"alice\", database \"app\", SSL encryption",
                refused(() -> AuthPolicy.rule(ssl, "app", "alice", CLIENT, aliceCert)).getMessage());
    }

    @Test
    void aRejectRuleRefusesBeforeAnyExchange() throws Exception {
        AuthConfig a = auth("[ { user = alice, method = reject }, { method = trust } ]");
        ClientRefusedException e = refused(() -> AuthPolicy.rule(a, "app", "alice", CLIENT, null));
        assertEquals(RefusalReason.HBA_REJECT, e.reason());
        assertEquals("28000", e.sqlState());
        assertEquals("pg_hba.conf rejects connection for host \"192.0.2.10\", user \"alice\", database \"app\", no encryption",
                e.getMessage());
        assertEquals(AuthMethod.TRUST, AuthPolicy.rule(a, "app", "bob", CLIENT, null).method());
    }

    @Test
    void md5MeansScramForAUserWithAVerifierAsInPostgres() throws Exception {
        AuthRule md5 = auth("[ { method = md5 } ]").rules().getFirst();
        assertEquals(AuthMethod.MD5, AuthPolicy.method(md5, MD5_USER));
        assertEquals(AuthMethod.SCRAM_SHA_256, AuthPolicy.method(md5, SCRAM_USER));
        assertEquals(AuthMethod.SCRAM_SHA_256, AuthPolicy.method(md5, new UserLookup.Unknown("x")));
        AuthRule scram = auth("[ { method = scram-sha-256 } ]").rules().getFirst();
        assertEquals(AuthMethod.SCRAM_SHA_256, AuthPolicy.method(scram, MD5_USER), "an md5 user then fails the mock exchange");
    }

    @Test
    void cleartextPasswordNeedsTlsUnlessTheRuleAllowsIt() throws Exception {
        AuthRule strict = auth("[ { method = password } ]").rules().getFirst();
        AuthRule lax = auth("[ { method = password, allow-without-tls = true } ]").rules().getFirst();
        ClientRefusedException e = refused(() -> AuthPolicy.requireTransport(AuthMethod.PASSWORD, strict, null));
        assertEquals(RefusalReason.TLS_REQUIRED, e.reason());
        assertEquals("28000", e.sqlState());
        assertDoesNotThrow(() -> AuthPolicy.requireTransport(AuthMethod.PASSWORD, strict, noCert));
        assertDoesNotThrow(() -> AuthPolicy.requireTransport(AuthMethod.PASSWORD, lax, null));
    }

    @Test
    void scramPlusNeedsTls() throws Exception {
        AuthRule plus = auth("[ { method = scram-sha-256-plus } ]").rules().getFirst();
        assertEquals(RefusalReason.TLS_REQUIRED,
                refused(() -> AuthPolicy.requireTransport(AuthMethod.SCRAM_SHA_256_PLUS, plus, null)).reason());
        assertDoesNotThrow(() -> AuthPolicy.requireTransport(AuthMethod.SCRAM_SHA_256_PLUS, plus, noCert));
    }

    @Test
    void mechanismsOfferedFollowTlsAndThePlusOnlyMethod() {
        assertEquals(List.of("SCRAM-SHA-256"), AuthPolicy.mechanisms(AuthMethod.SCRAM_SHA_256, null));
        assertEquals(List.of("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"), AuthPolicy.mechanisms(AuthMethod.SCRAM_SHA_256, noCert));
        assertEquals(List.of("SCRAM-SHA-256-PLUS"), AuthPolicy.mechanisms(AuthMethod.SCRAM_SHA_256_PLUS, noCert));
    }

    @Test
    void certNeedsACertificateWhoseCnIsTheUser() throws Exception {
        AuthConfig a = auth("[ { type = hostssl, method = cert } ]");
        AuthRule rule = a.rules().getFirst();
        // CN alice.example.com is not the user alice without a map.
        ClientRefusedException e = refused(() -> AuthPolicy.checkCertificate(a, rule, aliceCert, "alice"));
        assertEquals(RefusalReason.CERTIFICATE, e.reason());
        assertEquals("28000", e.sqlState());
        assertEquals("certificate authentication failed for user \"alice\"", e.getMessage());
        assertDoesNotThrow(() -> AuthPolicy.checkCertificate(a, rule, aliceCert, "alice.example.com"));
        assertEquals("connection requires a valid client certificate",
                refused(() -> AuthPolicy.checkCertificate(a, rule, noCert, "alice")).getMessage());
        assertEquals(RefusalReason.CERTIFICATE, refused(() -> AuthPolicy.requireTransport(AuthMethod.CERT, rule, null)).reason());
        assertSame(RefusalReason.CERTIFICATE, refused(() -> AuthPolicy.checkCertificate(a, rule, noCnCert, "alice")).reason());
    }

    @Test
    void certWithAMapAllowsOnlyTheMappedUsers() throws Exception {
        AuthConfig a = auth("[ { type = hostssl, method = cert, map = certs } ]");
        AuthRule rule = a.rules().getFirst();
        assertDoesNotThrow(() -> AuthPolicy.checkCertificate(a, rule, aliceCert, "alice"));
        assertEquals(RefusalReason.CERTIFICATE, refused(() -> AuthPolicy.checkCertificate(a, rule, aliceCert, "bob")).reason());
        assertEquals(RefusalReason.CERTIFICATE,
                refused(() -> AuthPolicy.checkCertificate(a, rule, aliceCert, "alice.example.com")).reason(),
                "with a map, the CN itself is only a user if the map says so");
    }

    @Test
    void hostsslRulesApplyOnlyOverTls() throws Exception {
        AuthConfig a = auth("[ { type = hostssl, method = scram-sha-256-plus }, { type = hostnossl, method = scram-sha-256 } ]");
        assertEquals(AuthMethod.SCRAM_SHA_256_PLUS, AuthPolicy.rule(a, "app", "alice", CLIENT, noCert).method());
        assertEquals(AuthMethod.SCRAM_SHA_256, AuthPolicy.rule(a, "app", "alice", CLIENT, null).method());
    }
}
