package io.pgproxy.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.EnumSet;

import static org.junit.jupiter.api.Assertions.*;

/** The backend keys: pgproxy.backend's defaults, each database's overrides, and what is refused. */
class BackendSettingsTest {

    private static ConfigException fails(String hocon) {
        return assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon));
    }

    @Test
    void defaultsAreLibpqsPreferAndTheRequireAuthByTls() throws Exception {
        DatabaseConfig d = ConfigLoader.parse("pgproxy.databases.a.host = h").databases().get("a");
        assertEquals(BackendTls.DEFAULT, d.tls());
        assertSame(RequireAuth.BY_TLS, d.requireAuth());
    }

    @Test
    void aDatabaseOverridesTheDefaultsKeyByKey() throws Exception {
        ProxyConfig c = ConfigLoader.parse("""
                pgproxy.backend { sslmode = verify-full, sslrootcert = "/ca.crt", require-auth = "!password" }
                pgproxy.databases.a { host = h }
                pgproxy.databases.b { host = h, sslmode = disable, require-auth = "scram-sha-256" }
                pgproxy.databases.c { host = h, sslmode = require, sslnegotiation = direct, sslcert = "/c.crt",
                                      sslkey = "/c.key", sslkey-passphrase-env = PGPROXY_KEY_PASS }
                """);
        BackendTls a = c.databases().get("a").tls();
        assertEquals(SslMode.VERIFY_FULL, a.mode());
        assertEquals(Path.of("/ca.crt"), a.rootCert());
        assertEquals(EnumSet.of(RequireAuth.Method.MD5, RequireAuth.Method.SCRAM_SHA_256, RequireAuth.Method.NONE),
                c.databases().get("a").requireAuth().allowed());
        assertEquals(SslMode.DISABLE, c.databases().get("b").tls().mode());
        assertEquals(EnumSet.of(RequireAuth.Method.SCRAM_SHA_256), c.databases().get("b").requireAuth().allowed());
        BackendTls cc = c.databases().get("c").tls();
        assertEquals(SslNegotiation.DIRECT, cc.negotiation());
        assertEquals(Path.of("/c.key"), cc.key());
        assertEquals("PGPROXY_KEY_PASS", cc.keyPassphraseEnv());
        // require with a root CA checks the chain, as in libpq
        assertTrue(cc.verifiesChain());
    }

    @Test
    void userBackendPasswordIsReadAndNeverPrinted() throws Exception {
        UserConfig u = ConfigLoader.parse("pgproxy.users.u { auth = trust, backend-password = \"s3cret\" }").users().get("u");
        assertEquals("s3cret", u.backendPassword());
        assertFalse(u.toString().contains("s3cret"), u.toString());
    }

    @Test
    void mistakesNameTheirKey() {
        assertEquals("pgproxy.databases.a.sslmode",
                fails("pgproxy.databases.a { host = h, sslmode = verify_fulll }").path());
        assertEquals("pgproxy.databases.a.sslrootcert",
                fails("pgproxy.databases.a { host = h, sslmode = verify-ca }").path());
        assertEquals("pgproxy.databases.a.sslnegotiation",
                fails("pgproxy.databases.a { host = h, sslnegotiation = direct }").path());
        assertEquals("pgproxy.databases.a.sslkey",
                fails("pgproxy.databases.a { host = h, sslcert = /c.crt }").path());
        assertEquals("pgproxy.databases.a.sslcert",
                fails("pgproxy.databases.a { host = h, sslkey = /c.key }").path());
        assertEquals("pgproxy.databases.a.sslmode",
                fails("pgproxy.databases.a { host = h, sslmode = verify-ca, sslrootcert = system }").path());
        assertEquals("pgproxy.backend.require-auth", fails("pgproxy.backend.require-auth = \"md5,!password\"").path());
        assertEquals("pgproxy.backend.sslmod", fails("pgproxy.backend.sslmod = disable").path());
        assertEquals("pgproxy.limits.max-scram-nonce-length", fails("pgproxy.limits.max-scram-nonce-length = 0").path());
    }

    @Test
    void aPassphraseInPlaceOfItsVariableNameIsRefusedWithoutEchoingIt() {
        ConfigException e = fails("pgproxy.databases.a { host = h, sslcert = /c, sslkey = /k, sslkey-passphrase-env = \"hunter 2!\" }");
        assertEquals("pgproxy.databases.a.sslkey-passphrase-env", e.path());
        assertFalse(e.getMessage().contains("hunter"), e.getMessage());
    }
}
