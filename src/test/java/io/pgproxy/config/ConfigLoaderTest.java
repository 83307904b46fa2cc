package io.pgproxy.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigLoaderTest {
    static final String VERIFIER = TestSecrets.VERIFIER;
    static final String MD5_HASH = TestSecrets.MD5_HASH;

    @Test
    void emptyInputGivesReferenceDefaults() throws Exception {
        ProxyConfig c = ConfigLoader.parse("");
        assertEquals(new ListenConfig("127.0.0.1", 6432), c.listen());
        assertEquals(new Limits(10000, 1073741824, 10000, Duration.ofSeconds(15), Duration.ZERO,
                Duration.ofSeconds(30), 100000, Duration.ZERO, Duration.ZERO, 0, 0, 0, 0, 10000, 1024, 65536), c.limits());
        assertEquals(new PoolDefaults(PoolMode.SESSION, 20, "DISCARD ALL", Duration.ofSeconds(600),
                Duration.ofSeconds(3600), Duration.ofSeconds(5), Duration.ofSeconds(30), 0, 0, Duration.ofSeconds(5), 200, SessionIsolation.RESET), c.pool());
        assertTrue(c.users().isEmpty());
        assertTrue(c.databases().isEmpty());
        assertEquals(new MetricsConfig("127.0.0.1", 0, 100), c.metrics());
        assertFalse(c.metrics().enabled(), "no metrics endpoint unless a port is set");
    }

    @Test
    void metricsBlockParses() throws Exception {
        ProxyConfig c = ConfigLoader.parse(
                "pgproxy.metrics { listen-host = \"0.0.0.0\", listen-port = 9432, max-labelled-pools = 5 }");
        assertEquals(new MetricsConfig("0.0.0.0", 9432, 5), c.metrics());
        assertTrue(c.metrics().enabled());
    }

    @Test
    void fullExampleParses() throws Exception {
        ProxyConfig c = ConfigLoader.parse("""
                pgproxy {
                  listen { host = "0.0.0.0", port = 0 }
                  limits {
                    max-clients = 50
                    max-message-size = 64KiB
                    max-startup-packet-size = 2048
                    startup-timeout = 2s
                    client-idle-timeout = 10m
                    shutdown-timeout = 500ms
                    max-scram-iterations = 20000
                  }
                  pool {
                    mode = transaction, size = 3, reset-query = "", session-isolation = tracked, server-idle-timeout = 1m
                    server-lifetime = 2h, server-connect-timeout = 1s, wait-timeout = 0
                    max-prepared-statements = 0
                  }
                  users {
                    zed { password = "%s" }
                    bob { auth = trust }
                    alice { auth = md5, password = "%s" }
                    carol { auth = SCRAM_SHA_256, password = "%s" }
                  }
                  databases {
                    zoo { host = "db1", port = 5433, dbname = "real_zoo", user = "owner", password = "pw",
                          pool-size = 7, mode = session }
                    "my.db" { host = "db2" }
                  }
                }
                """.formatted(VERIFIER, MD5_HASH, VERIFIER));
        assertEquals(new ListenConfig("0.0.0.0", 0), c.listen());
        assertEquals(new Limits(50, 65536, 2048, Duration.ofSeconds(2), Duration.ofMinutes(10),
                Duration.ofMillis(500), 20000, Duration.ZERO, Duration.ZERO, 0, 0, 0, 0, 10000, 1024, 65536), c.limits());
        assertEquals(new PoolDefaults(PoolMode.TRANSACTION, 3, "", Duration.ofMinutes(1), Duration.ofHours(2),
                Duration.ofSeconds(1), Duration.ZERO, 0, 0, Duration.ofSeconds(5), 0, SessionIsolation.TRACKED), c.pool());

        assertEquals(List.of("zed", "bob", "alice", "carol"), List.copyOf(c.users().keySet()), "file order");
        assertEquals(new UserConfig("zed", AuthMethod.SCRAM_SHA_256, VERIFIER), c.users().get("zed"));
        assertEquals(new UserConfig("bob", AuthMethod.TRUST, null), c.users().get("bob"));
        assertEquals(new UserConfig("alice", AuthMethod.MD5, MD5_HASH), c.users().get("alice"));
        assertEquals(AuthMethod.SCRAM_SHA_256, c.users().get("carol").auth());

        assertEquals(List.of("zoo", "my.db"), List.copyOf(c.databases().keySet()));
        assertEquals(new DatabaseConfig("zoo", "db1", 5433, "real_zoo", "owner", "pw", 7, PoolMode.SESSION),
                c.databases().get("zoo"));
        // Unset database fields fall back to the name, the client's user and the pool defaults.
        assertEquals(new DatabaseConfig("my.db", "db2", 5432, "my.db", null, null, 3, PoolMode.TRANSACTION),
                c.databases().get("my.db"));
    }

    @Test
    void clientTlsIsOffByDefaultAndADatabaseCanTightenIt() throws Exception {
        ProxyConfig off = ConfigLoader.parse("");
        assertEquals(ClientTlsConfig.DISABLED, off.clientTls());
        ProxyConfig on = ConfigLoader.parse("""
                pgproxy.client-tls { mode = verify-full, cert-file = server.crt, key-file = server.key, ca-file = ca.crt,
                                     key-passphrase-env = KEY_PASS, min-version = TLSv1.3, ciphers = [TLS_AES_256_GCM_SHA384], direct = false }
                pgproxy.databases.d { host = h, client-tls-mode = require }
                """);
        assertEquals(new ClientTlsConfig(ClientTlsMode.VERIFY_FULL, Path.of("server.crt"), Path.of("server.key"), "KEY_PASS",
                Path.of("ca.crt"), "TLSv1.3", List.of("TLS_AES_256_GCM_SHA384"), false), on.clientTls());
        assertEquals(ClientTlsMode.REQUIRE, on.databases().get("d").clientTlsMode());
        assertEquals(ClientTlsMode.VERIFY_FULL, ClientTlsMode.VERIFY_FULL.atLeast(ClientTlsMode.REQUIRE));
        assertEquals(ClientTlsMode.REQUIRE, ClientTlsMode.PREFER.atLeast(ClientTlsMode.REQUIRE));
    }

    @Test
    void md5PasswordInfersMd5() throws Exception {
        ProxyConfig c = ConfigLoader.parse("pgproxy.users.u.password = \"" + MD5_HASH + "\"");
        assertEquals(AuthMethod.MD5, c.users().get("u").auth());
    }

    @Test
    void mapsAreUnmodifiable() throws Exception {
        ProxyConfig c = ConfigLoader.parse("pgproxy.databases.a.host = h\npgproxy.users.b.auth = trust");
        assertThrows(UnsupportedOperationException.class, () -> c.databases().remove("a"));
        assertThrows(UnsupportedOperationException.class, () -> c.users().clear());
    }

    @Test
    void optionalEnvironmentSubstitutionLeavesKeyUnsetWhenVariableIsMissing() throws Exception {
        ProxyConfig c = ConfigLoader.parse("""
                pgproxy.listen.port = ${?PGPROXY_TEST_SURELY_UNSET_VARIABLE}
                pgproxy.databases.app { host = h, password = ${?PGPROXY_TEST_SURELY_UNSET_VARIABLE} }
                """);
        assertEquals(6432, c.listen().port());
        assertNull(c.databases().get("app").password());
    }

    @Test
    void substitutionCanReferToOtherKeys() throws Exception {
        ProxyConfig c = ConfigLoader.parse("""
                pgproxy.databases.a { host = "10.0.0.1", port = 5433 }
                pgproxy.databases.b = ${pgproxy.databases.a} { dbname = other }
                """);
        assertEquals(new DatabaseConfig("b", "10.0.0.1", 5433, "other", null, null, 20, PoolMode.SESSION),
                c.databases().get("b"));
    }

    @Test
    void shippedExampleFileParses() throws Exception {
        Path file = Path.of(System.getProperty("user.dir"), "conf", "pgproxy.conf");
        ProxyConfig c = ConfigLoader.load(file);
        assertEquals(new ListenConfig("127.0.0.1", 6432), c.listen());
        DatabaseConfig app = c.databases().get("app");
        assertEquals("127.0.0.1", app.host());
        assertEquals(5432, app.port());
        assertEquals("app", app.dbname());
        assertEquals(AuthMethod.SCRAM_SHA_256, c.users().values().iterator().next().auth());
    }

    @Test
    void loadReadsFileOverReference(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("p.conf");
        Files.writeString(file, "pgproxy.listen.port = 7000\n");
        ProxyConfig c = ConfigLoader.load(file);
        assertEquals(7000, c.listen().port());
        assertEquals("127.0.0.1", c.listen().host());
    }

    @Test
    void missingFileIsReportedWithItsName(@TempDir Path dir) {
        Path file = dir.resolve("nope.conf");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals(file.toString(), e.path());
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void unparseableFileIsReportedWithLineNumber(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.conf");
        Files.writeString(file, "pgproxy {\n  listen {\n    port = [\n}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals(file.toString(), e.path());
        assertTrue(e.getMessage().startsWith(file + ": line 4: "), e.getMessage());
    }

    @Test
    void unparseableStringIsReportedWithLineNumber() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("pgproxy {\n  listen {\n    port = }\n}"));
        assertEquals("<string>", e.path());
        assertTrue(e.reason().startsWith("line 3: "), e.getMessage());
    }

    @Test
    void unresolvedRequiredSubstitutionIsReportedWithLineNumber() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("\npgproxy.listen.host = ${PGPROXY_TEST_SURELY_UNSET_VARIABLE}"));
        assertTrue(e.reason().startsWith("line 2: "), e.getMessage());
        assertTrue(e.getMessage().contains("PGPROXY_TEST_SURELY_UNSET_VARIABLE"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            pgproxy.lisen.port = 1                           | pgproxy.lisen                          | unknown key
            pgproxy.listen.prot = 1                          | pgproxy.listen.prot                    | unknown key
            pgproxy.limits.max-client = 1                    | pgproxy.limits.max-client              | unknown key
            pgproxy.pool.sise = 1                            | pgproxy.pool.sise                      | unknown key
            pgproxy.metrics.port = 1                         | pgproxy.metrics.port                   | unknown key
            pgproxy.metrics.listen-port = 65536              | pgproxy.metrics.listen-port            | must be between 0 and 65535
            pgproxy.metrics.listen-host = ""                 | pgproxy.metrics.listen-host            | must not be empty
            pgproxy.metrics.max-labelled-pools = -1          | pgproxy.metrics.max-labelled-pools     | must be between 0 and 10000
            pgproxy.users.u { auth = trust, pasword = x }    | pgproxy.users.u.pasword                | unknown key
            pgproxy.databases.d { host = h, prot = 1 }       | pgproxy.databases.d.prot               | unknown key
            pgproxy.databases."a.b" { host = h, x = 1 }      | pgproxy.databases."a.b".x              | unknown key
            pgproxy = 1                                      | pgproxy                                | expected an object
            pgproxy.listen = 1                               | pgproxy.listen                         | expected an object
            pgproxy.users = []                               | pgproxy.users                          | expected an object
            pgproxy.users.u = trust                          | pgproxy.users.u                        | expected an object
            pgproxy.databases.d = 5                          | pgproxy.databases.d                    | expected an object
            pgproxy.listen.port = 65536                      | pgproxy.listen.port                    | must be between 0 and 65535, was 65536
            pgproxy.listen.port = -1                         | pgproxy.listen.port                    | must be between 0 and 65535
            pgproxy.listen.port = abc                        | pgproxy.listen.port                    | expected a whole number, was a string
            pgproxy.listen.port = 1.5                        | pgproxy.listen.port                    | must be a whole number
            pgproxy.listen.port = { a = 1 }                  | pgproxy.listen.port                    | expected a whole number, was an object
            pgproxy.listen.host = ""                         | pgproxy.listen.host                    | must not be empty
            pgproxy.listen.host = [a]                        | pgproxy.listen.host                    | expected a string, was a list
            pgproxy.limits.max-clients = 0                   | pgproxy.limits.max-clients             | must be between 1
            pgproxy.limits.max-message-size = 4095           | pgproxy.limits.max-message-size        | must be between 4096 and 1073741824 bytes, was 4095
            pgproxy.limits.max-message-size = 2GiB           | pgproxy.limits.max-message-size        | must be between 4096 and 1073741824 bytes
            pgproxy.limits.max-message-size = 10s            | pgproxy.limits.max-message-size        | expected a size in bytes
            pgproxy.limits.max-startup-packet-size = 1023    | pgproxy.limits.max-startup-packet-size | must be between 1024 and 65536
            pgproxy.limits.max-startup-packet-size = 65537   | pgproxy.limits.max-startup-packet-size | must be between 1024 and 65536
            pgproxy.limits.startup-timeout = -1s             | pgproxy.limits.startup-timeout         | must not be negative
            pgproxy.limits.shutdown-timeout = soon           | pgproxy.limits.shutdown-timeout        | expected a duration
            pgproxy.limits.max-scram-iterations = 0          | pgproxy.limits.max-scram-iterations    | must be between 1
            pgproxy.pool.mode = batch                        | pgproxy.pool.mode                      | must be session, transaction or statement, was "batch"
            pgproxy.pool.size = 0                            | pgproxy.pool.size                      | must be between 1 and 10000, was 0
            pgproxy.pool.size = 10001                        | pgproxy.pool.size                      | must be between 1 and 10000
            pgproxy.pool.wait-timeout = -5ms                 | pgproxy.pool.wait-timeout              | must not be negative
            pgproxy.pool.reset-query = {}                    | pgproxy.pool.reset-query               | expected a string, was an object
            pgproxy.databases.d { port = 1 }                 | pgproxy.databases.d.host               | is required
            pgproxy.databases.d { host = "" }                | pgproxy.databases.d.host               | must not be empty
            pgproxy.databases.app { host = h, port = 70000 } | pgproxy.databases.app.port             | must be between 1 and 65535, was 70000
            pgproxy.databases.d { host = h, port = 0 }       | pgproxy.databases.d.port               | must be between 1 and 65535
            pgproxy.databases.d { host = h, pool-size = 0 }  | pgproxy.databases.d.pool-size          | must be between 1 and 10000
            pgproxy.databases.d { host = h, mode = x }       | pgproxy.databases.d.mode               | must be session, transaction or statement
            pgproxy.databases.d { host = h, dbname = "" }    | pgproxy.databases.d.dbname             | must not be empty
            pgproxy.databases.d { host = h, user = "" }      | pgproxy.databases.d.user               | must not be empty
            pgproxy.databases.d { host = h, password = [] }  | pgproxy.databases.d.password           | expected a string, was a list
            pgproxy.databases."" { host = h }                | pgproxy.databases.""                   | must not be empty
            pgproxy.users."" { auth = trust }                | pgproxy.users.""                       | must not be empty
            pgproxy.users.u {}                               | pgproxy.users.u                        | needs a password
            pgproxy.users.u { auth = plain }                 | pgproxy.users.u.auth                   | must be scram-sha-256, md5 or trust
            pgproxy.users.u { auth = trust, password = x }   | pgproxy.users.u.password               | must not be set when auth = trust
            pgproxy.users.u { auth = scram-sha-256 }         | pgproxy.users.u.password               | is required when auth = scram-sha-256
            pgproxy.users.u { auth = md5 }                   | pgproxy.users.u.password               | is required when auth = md5
            pgproxy.users.u { password = hunter2 }           | pgproxy.users.u.password               | `bin/pgproxy passwd u`
            pgproxy.users.u { password = "md5ABC" }          | pgproxy.users.u.password               | is not a valid md5 hash
            pgproxy.users.u { password = "SCRAM-SHA-256$1:x" } | pgproxy.users.u.password             | is not a valid SCRAM-SHA-256 verifier
            pgproxy.admin-users = [nobody]                   | pgproxy.admin-users[0]                 | is not in pgproxy.users
            pgproxy.stats-users = nobody                     | pgproxy.stats-users                    | expected a list of user names
            pgproxy.admin-users = [{ a = 1 }]                | pgproxy.admin-users[0]                 | expected a user name
            pgproxy.client-tls.mode = on                     | pgproxy.client-tls.mode                | must be disable, allow, prefer, require, verify-ca or verify-full
            pgproxy.client-tls.mode = require                | pgproxy.client-tls.cert-file           | is required when mode is require
            pgproxy.client-tls { mode = prefer, cert-file = c } | pgproxy.client-tls.key-file         | is required when mode is prefer
            pgproxy.client-tls { mode = verify-ca, cert-file = c, key-file = k } | pgproxy.client-tls.ca-file | is required to verify client certificates
            pgproxy.client-tls.min-version = TLSv1.1         | pgproxy.client-tls.min-version         | must be TLSv1.2 or TLSv1.3
            pgproxy.client-tls.ciphers = x                   | pgproxy.client-tls.ciphers             | expected a list of strings
            pgproxy.client-tls.direct = maybe                | pgproxy.client-tls.direct              | expected true or false
            pgproxy.client-tls.sslmode = require             | pgproxy.client-tls.sslmode             | unknown key
            pgproxy.databases.d { host = h, client-tls-mode = x } | pgproxy.databases.d.client-tls-mode | must be disable, allow
            pgproxy.failover.health-user = h, pgproxy.databases.d { host = "a,b,c", port = "1,2" } | pgproxy.databases.d.port | 2 ports for 3 hosts
            pgproxy.failover.health-user = h, pgproxy.databases.d { host = "a,,b" } | pgproxy.databases.d.host | empty host name
            pgproxy.failover.health-user = h, pgproxy.databases.d { host = "a,a" } | pgproxy.databases.d.host | names a:5432 twice
            pgproxy.databases.d { host = "a,b" }                  | pgproxy.databases.d.host               | health-checked
            pgproxy.failover.fall-count = 0                       | pgproxy.failover.fall-count            | must be between 1 and 1000
            pgproxy.failover.check-interval = 0s                  | pgproxy.failover.check-interval        | must be more than 0
            """)
    void invalidValueNamesItsKeyPath(String hocon, String path, String reason) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon));
        assertEquals(path, e.path(), e.getMessage());
        assertTrue(e.getMessage().startsWith(path + ": "), e.getMessage());
        assertTrue(e.reason().contains(reason), () -> "expected '" + reason + "' in: " + e.getMessage());
    }

    @Test
    void namesLongerThan63BytesAreRejected() throws Exception {
        String ok = "d".repeat(63);
        ConfigLoader.parse("pgproxy.databases." + ok + ".host = h");
        // 32 two-byte characters: short in chars, too long in bytes.
        String tooLong = "é".repeat(32);
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("pgproxy.users.\"" + tooLong + "\".auth = trust"));
        assertEquals("pgproxy.users." + tooLong, e.path()); // HOCON needs no quotes for é
        assertTrue(e.reason().contains("at most 63 bytes, was 64"), e.getMessage());
    }

    @Test
    void authMustMatchThePasswordFormat() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("pgproxy.users.u { auth = md5, password = \"" + VERIFIER + "\" }"));
        assertEquals("pgproxy.users.u.password", e.path());
        e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("pgproxy.users.u { auth = scram-sha-256, password = \"" + MD5_HASH + "\" }"));
        assertEquals("pgproxy.users.u.password", e.path());
        assertTrue(e.reason().contains("bin/pgproxy passwd u"), e.getMessage());
    }

    @Test
    void malformedScramVerifiersAreRejected() {
        assertNull(ConfigLoader.scramProblem(VERIFIER));
        String key = VERIFIER.substring(VERIFIER.lastIndexOf(':') + 1);
        for (String bad : List.of(
                "SCRAM-SHA-256$4096:c2FsdA==$" + key,                              // one key only
                "SCRAM-SHA-256$0:c2FsdA==$" + key + ":" + key,                      // zero iterations
                "SCRAM-SHA-256$4096:c2F!dA==$" + key + ":" + key,                   // bad base64 salt
                "SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:" + key,                      // short StoredKey
                "SCRAM-SHA-256$4096:c2FsdA==$" + key + ":" + key + "x")) {          // broken ServerKey
            assertFalse(ConfigLoader.scramProblem(bad) == null, bad);
        }
    }

    @Test
    void errorsNeverEchoPasswords() {
        String secret = "s3cr3t-Cleartext";
        for (String hocon : List.of(
                "pgproxy.users.u { password = \"" + secret + "\" }",
                "pgproxy.users.u { auth = md5, password = \"md5" + secret + "\" }",
                "pgproxy.users.u { auth = trust, password = \"" + secret + "\" }",
                "pgproxy.users.u { password = \"SCRAM-SHA-256$" + secret + "\" }")) {
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon));
            assertFalse(e.getMessage().contains(secret), e.getMessage());
        }
    }

    @Test
    void emptyUsersAndDatabasesAreAllowed() throws Exception {
        ProxyConfig c = ConfigLoader.parse("pgproxy { users {}, databases {} }");
        assertTrue(c.users().isEmpty());
        assertTrue(c.databases().isEmpty());
    }

    @Test
    void consoleRolesNameConfiguredUsers() throws Exception {
        ProxyConfig c = ConfigLoader.parse("""
                pgproxy.users { a { auth = trust }, b { auth = trust } }
                pgproxy.admin-users = [a]
                pgproxy.stats-users = [b, a]
                """);
        assertEquals(java.util.Set.of("a"), c.adminUsers());
        assertEquals(java.util.List.of("b", "a"), java.util.List.copyOf(c.statsUsers()));
        assertTrue(ConfigLoader.parse("").adminUsers().isEmpty());
    }

    @Test
    void aDatabaseMayNameSeveralHostsAsLibpqDoes() throws Exception {
        ProxyConfig c = ConfigLoader.parse("""
                pgproxy.failover.health-user = "health"
                pgproxy.databases.one_port { host = "a, b", port = 6000 }
                pgproxy.databases.per_host { host = "a,b,c", port = "5432,5433,5434" }
                """);
        assertEquals(List.of(new HostAddress("a", 6000), new HostAddress("b", 6000)),
                c.databases().get("one_port").hosts());
        assertEquals(List.of(new HostAddress("a", 5432), new HostAddress("b", 5433), new HostAddress("c", 5434)),
                c.databases().get("per_host").hosts());
        assertTrue(c.databases().get("per_host").isCluster());
        assertEquals(FailoverConfig.DEFAULT.checkInterval(), c.failover().checkInterval());
    }
}
