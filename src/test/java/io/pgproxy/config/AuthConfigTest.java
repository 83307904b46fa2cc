package io.pgproxy.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code pgproxy.hba}, {@code pgproxy.ident-maps} and {@code pgproxy.auth-query}: parsing, checks and rule matching. */
class AuthConfigTest {
    private static final InetAddress LOCAL = InetAddress.ofLiteral("127.0.0.1");
    private static final InetAddress TEN = InetAddress.ofLiteral("10.1.2.3");
    private static final InetAddress V6 = InetAddress.ofLiteral("2001:db8::7");

    private static AuthConfig auth(String hocon) throws ConfigException {
        return ConfigLoader.parse(hocon).auth();
    }

    @Test
    void noRulesNoMapsNoAuthQueryByDefault() throws Exception {
        AuthConfig a = auth("");
        assertTrue(a.rules().isEmpty());
        assertTrue(a.identMaps().isEmpty());
        assertNull(a.authQuery());
    }

    @Test
    void rulesParseInOrderWithTheirDefaults() throws Exception {
        AuthConfig a = auth("""
                pgproxy.ident-maps { certs = [ { system-user = "alice.example.com", user = alice },
                                               { system-user = "alice.example.com", user = admin } ] }
                pgproxy.hba = [
                  { type = hostssl, method = cert, map = certs }
                  { database = [app, other], user = bob, address = "10.0.0.0/8", method = md5 }
                  { type = hostnossl, user = legacy, method = password, allow-without-tls = true }
                  { method = reject }
                ]
                """);
        assertEquals(List.of(
                new AuthRule(ConnectionType.HOSTSSL, Set.of(), Set.of(), null, AuthMethod.CERT, "certs", false),
                new AuthRule(ConnectionType.HOST, Set.of("app", "other"), Set.of("bob"), Cidr.parse("10.0.0.0/8"),
                        AuthMethod.MD5, null, false),
                new AuthRule(ConnectionType.HOSTNOSSL, Set.of(), Set.of("legacy"), null, AuthMethod.PASSWORD, null, true),
                new AuthRule(ConnectionType.HOST, Set.of(), Set.of(), null, AuthMethod.REJECT, null, false)), a.rules());
        assertEquals(Map.of("certs", Map.of("alice.example.com", Set.of("alice", "admin"))), a.identMaps());
        assertTrue(a.identMapAllows("certs", "alice.example.com", "admin"));
        assertFalse(a.identMapAllows("certs", "alice.example.com", "bob"));
        assertFalse(a.identMapAllows("nomap", "alice.example.com", "alice"));
    }

    @Test
    void theFirstCoveringRuleWins() throws Exception {
        AuthConfig a = auth("""
                pgproxy.hba = [
                  { type = hostssl, user = bob, method = scram-sha-256-plus }
                  { database = app, user = bob, address = "10.0.0.0/8", method = md5 }
                  { address = "::/0", method = trust }
                  { address = "127.0.0.1", method = scram-sha-256 }
                ]
                """);
        assertEquals(AuthMethod.SCRAM_SHA_256_PLUS, a.firstMatch("app", "bob", TEN, true).method());
        assertEquals(AuthMethod.MD5, a.firstMatch("app", "bob", TEN, false).method());
        assertNull(a.firstMatch("other", "bob", TEN, false), "no rule for another database from 10/8");
        assertEquals(AuthMethod.TRUST, a.firstMatch("other", "bob", V6, false).method(), "an IPv6 range takes IPv6 clients");
        assertEquals(AuthMethod.SCRAM_SHA_256, a.firstMatch("app", "carol", LOCAL, false).method());
        assertNull(a.firstMatch("app", "carol", InetAddress.ofLiteral("127.0.0.2"), false), "a bare address is /32");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            10.0.0.0/8       | 10.255.0.1  | true
            10.0.0.0/8       | 11.0.0.1    | false
            10.1.2.0/24      | 10.1.2.200  | true
            10.1.2.0/24      | 10.1.3.1    | false
            0.0.0.0/0        | 192.0.2.1   | true
            0.0.0.0/0        | ::1         | false
            ::/0             | 127.0.0.1   | false
            2001:db8::/32    | 2001:db8::7 | true
            2001:db8::/32    | 2001:db9::7 | false
            ::1              | ::1         | true
            192.168.0.0/17   | 192.168.127.1 | true
            192.168.0.0/17   | 192.168.128.1 | false
            """)
    void cidrContains(String cidr, String client, boolean expected) {
        assertEquals(expected, Cidr.parse(cidr).contains(InetAddress.ofLiteral(client)));
    }

    @Test
    void authQueryParses() throws Exception {
        AuthQueryConfig q = auth("""
                pgproxy.databases.app.host = h
                pgproxy.auth-query { auth-user = pgproxy_auth, auth-password = secret, auth-dbname = app,
                                     query = "SELECT * FROM lookup($1)", cache-ttl = 5s, max-cached-users = 7 }
                """).authQuery();
        assertEquals(new AuthQueryConfig("pgproxy_auth", "secret", "SELECT * FROM lookup($1)", "app", Duration.ofSeconds(5), 7), q);
        assertFalse(q.toString().contains("secret"), q.toString());
        AuthQueryConfig defaults = auth("pgproxy.auth-query.auth-user = a").authQuery();
        assertTrue(defaults.query().contains("rolvaliduntil"), "the default query respects rolvaliduntil");
        assertNull(defaults.authPassword());
        assertNull(defaults.authDbname());
        assertEquals(Duration.ofSeconds(60), defaults.cacheTtl());
    }

    @Test
    void rulesAreComparedByValueSoAnUnchangedReloadKeepsTheAuthQueryCache() throws Exception {
        String hocon = "pgproxy.auth-query.auth-user = a\npgproxy.hba = [ { method = md5 } ]";
        assertEquals(auth(hocon), auth(hocon));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            pgproxy.hba = { method = md5 }                           | pgproxy.hba                  | expected a list
            pgproxy.hba = [ md5 ]                                    | pgproxy.hba[0]               | expected an object
            pgproxy.hba = [ { user = bob } ]                         | pgproxy.hba[0].method        | is required
            pgproxy.hba = [ { method = md5 }, { method = ident } ]   | pgproxy.hba[1].method        | must be trust, reject, password
            pgproxy.hba = [ { method = md5, type = local } ]         | pgproxy.hba[0].type          | must be host, hostssl or hostnossl
            pgproxy.hba = [ { method = md5, adress = all } ]         | pgproxy.hba[0].adress        | unknown key
            pgproxy.hba = [ { method = md5, address = "10.0.0.1/8" } ] | pgproxy.hba[0].address     | bits set past its /8 prefix
            pgproxy.hba = [ { method = md5, address = "10.0.0.0/33" } ] | pgproxy.hba[0].address    | prefix length must be between 0 and 32
            pgproxy.hba = [ { method = md5, address = "example.com" } ] | pgproxy.hba[0].address    | is not an IPv4 or IPv6 address
            pgproxy.hba = [ { method = md5, user = [] } ]            | pgproxy.hba[0].user          | must name at least one
            pgproxy.hba = [ { method = md5, user = [1] } ]           | pgproxy.hba[0].user[0]       | expected a name
            pgproxy.hba = [ { method = cert } ]                      | pgproxy.hba[0].method        | only supported on hostssl
            pgproxy.hba = [ { type = hostnossl, method = scram-sha-256-plus } ] | pgproxy.hba[0].method | cannot be used with hostnossl
            pgproxy.hba = [ { method = md5, map = m } ]              | pgproxy.hba[0].map           | only used with method = cert
            pgproxy.hba = [ { type = hostssl, method = cert, map = m } ] | pgproxy.hba[0].map       | is not in pgproxy.ident-maps
            pgproxy.hba = [ { method = md5, allow-without-tls = true } ] | pgproxy.hba[0].allow-without-tls | only used with method = password
            pgproxy.hba = [ { method = password, allow-without-tls = yes } ] | pgproxy.hba[0].allow-without-tls | expected true or false
            pgproxy.ident-maps { m = [ { user = a } ] }              | pgproxy.ident-maps.m[0].system-user | is required
            pgproxy.ident-maps { m = [ { system-user = x, user = a, x = 1 } ] } | pgproxy.ident-maps.m[0].x | unknown key
            pgproxy.auth-query { auth-user = a, query = "SELECT 1" } | pgproxy.auth-query.query     | must use $1
            pgproxy.auth-query { auth-user = a, auth-dbname = nope } | pgproxy.auth-query.auth-dbname | is not in pgproxy.databases
            pgproxy.auth-query { auth-user = a, max-cached-users = 0 } | pgproxy.auth-query.max-cached-users | must be between 1
            pgproxy.auth-query { auth-user = a, cache-ttl = forever } | pgproxy.auth-query.cache-ttl | expected a duration
            pgproxy.auth-query { authuser = a }                      | pgproxy.auth-query.authuser  | unknown key
            """)
    void invalidValueNamesItsKeyPath(String hocon, String path, String reason) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(hocon));
        assertEquals(path, e.path(), e.getMessage());
        assertTrue(e.reason().contains(reason), () -> "expected '" + reason + "' in: " + e.getMessage());
    }

    @Test
    void theAuthPasswordNeverAppearsInAnError() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("pgproxy.auth-query { auth-user = a, auth-password = hunter2, query = nope }"));
        assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
    }
}
