package io.pgproxy.tls;

import io.pgproxy.config.ConfigException;
import io.pgproxy.config.ConfigLoader;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.fixtures.TestPki;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The backend SSL contexts of a snapshot: built from its files, refused with the file's path and reason. */
class BackendTlsContextsTest {
    @TempDir
    Path dir;

    private static ProxyConfig config(String database) throws ConfigException {
        return ConfigLoader.parse("pgproxy.databases.a { host = db.example, " + database + " }");
    }

    @Test
    void anEncryptedClientKeyTakesItsPassphraseFromTheNamedVariable() throws Exception {
        TestPki pki = TestPki.create(dir, "ca");
        TestPki.Issued c = pki.issue("client", "pgproxy", java.util.List.of(), java.time.Instant.now().plusSeconds(3600),
                TestPki.KeyFormat.PKCS8_ENCRYPTED, "s3cret".toCharArray(), "EC");
        ProxyConfig config = config("sslmode = verify-full, sslrootcert = \"" + pki.caFile() + "\", sslcert = \""
                + c.certificate() + "\", sslkey = \"" + c.key() + "\", sslkey-passphrase-env = KEY_PASS");
        BackendTlsContexts contexts = BackendTlsContexts.build(config, Map.of("KEY_PASS", "s3cret")::get);
        SSLEngine engine = contexts.get(config.databases().get("a").tls()).newEngine("db.example", 5432);
        assertEquals("HTTPS", engine.getSSLParameters().getEndpointIdentificationAlgorithm());
        assertArrayEquals(new String[] {"postgresql"}, engine.getSSLParameters().getApplicationProtocols());

        ConfigException missing = assertThrows(ConfigException.class, () -> BackendTlsContexts.build(config, k -> null));
        assertEquals("pgproxy.databases.a", missing.path());
        assertTrue(missing.getMessage().contains("KEY_PASS") && missing.getMessage().contains(c.key().toString()),
                missing.getMessage());
        ConfigException wrong = assertThrows(ConfigException.class,
                () -> BackendTlsContexts.build(config, Map.of("KEY_PASS", "nope")::get));
        assertFalse(wrong.getMessage().contains("nope"), wrong.getMessage());
    }

    @Test
    void aClientKeyOthersCanReadIsRefusedAsLibpqDoes() throws Exception {
        TestPki pki = TestPki.create(dir, "ca");
        TestPki.Issued c = pki.client("client", "pgproxy");
        Files.setPosixFilePermissions(c.key(), java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        ConfigException e = assertThrows(ConfigException.class, () -> BackendTlsContexts.build(config(
                "sslcert = \"" + c.certificate() + "\", sslkey = \"" + c.key() + "\""), k -> null));
        assertTrue(e.getMessage().contains(c.key().toString()) && e.getMessage().contains("0600"), e.getMessage());
    }

    @Test
    void anUnusableRootCertificateFileIsNamed() throws Exception {
        Path broken = Files.writeString(dir.resolve("ca.crt"), "not a certificate\n");
        ConfigException e = assertThrows(ConfigException.class, () ->
                BackendTlsContexts.build(config("sslmode = verify-ca, sslrootcert = \"" + broken + "\""), k -> null));
        assertTrue(e.getMessage().contains(broken.toString()), e.getMessage());
        ConfigException absent = assertThrows(ConfigException.class, () -> BackendTlsContexts.build(
                config("sslmode = verify-ca, sslrootcert = \"" + dir.resolve("absent.crt") + "\""), k -> null));
        assertTrue(absent.getMessage().contains("absent.crt"), absent.getMessage());
    }

    @Test
    void preferChecksNothingAndVerifyCaNoHostName() throws Exception {
        TestPki pki = TestPki.create(dir, "ca");
        ProxyConfig prefer = config("sslmode = prefer");
        SSLEngine e = BackendTlsContexts.build(prefer, k -> null).get(prefer.databases().get("a").tls()).newEngine("h", 1);
        assertNull(e.getSSLParameters().getEndpointIdentificationAlgorithm());
        ProxyConfig ca = config("sslmode = verify-ca, sslrootcert = \"" + pki.caFile() + "\"");
        SSLEngine v = BackendTlsContexts.build(ca, k -> null).get(ca.databases().get("a").tls()).newEngine("h", 1);
        assertNull(v.getSSLParameters().getEndpointIdentificationAlgorithm());
        ProxyConfig system = config("sslmode = verify-full, sslrootcert = system");
        assertNotNull(BackendTlsContexts.build(system, k -> null).get(system.databases().get("a").tls()));
    }
}
