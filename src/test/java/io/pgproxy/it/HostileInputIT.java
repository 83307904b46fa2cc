package io.pgproxy.it;

import io.pgproxy.fixtures.PgWire;
import io.pgproxy.fixtures.PgWire.Message;
import io.pgproxy.fixtures.PgWire.Reaction;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.postgresql.PGConnection;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.pgproxy.fixtures.PgWire.*;
import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Hostile and malformed input over raw sockets (DESIGN §6). Each case must end in a well-formed
 * ErrorResponse with SQLSTATE 08P01 (where the protocol allows one) or in the proxy closing that one
 * connection, promptly, and never in a login. After each case a fresh pgjdbc client must work, and a
 * bystander session opened before all of them must still answer.
 *
 * <p>The main proxy has {@code startup-timeout = 15s} while every raw read here gives up after 10 s, so a
 * reaction seen in a test is the proxy reacting to the input, not its startup timer. The startup-timeout
 * cases use a second proxy with {@code startup-timeout = 1s}. The route trust_user/app_trust has a pool of
 * ONE backend: a backend leaked by a hostile session would starve the check after the test.
 */
@Timeout(60)
@ExtendWith(SharedPostgres.class)
class HostileInputIT {

    static final Duration READ_TIMEOUT = Duration.ofSeconds(10);

    static PostgresFixture pg;
    static ProxyFixture proxy;
    static ProxyFixture shortTimeoutProxy;
    static Connection bystander;
    static long bystanderPid;

    @BeforeAll
    static void start(PostgresFixture database) throws SQLException {
        pg = database;
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.pool.size = 1\n");
        shortTimeoutProxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + "pgproxy.limits.startup-timeout = 1s\n");
        bystander = proxy.connect(MD5_USER, MD5_PW, "app_md5");
        bystanderPid = backendPid(bystander);
    }

    @AfterAll
    static void stop() throws SQLException {
        if (bystander != null) bystander.close();
        if (shortTimeoutProxy != null) shortTimeoutProxy.close();
        if (proxy != null) proxy.close();
    }

    @AfterEach
    void othersAreUnaffected() throws SQLException {
        try (Connection c = proxy.connect(TRUST_USER, null, "app_trust")) {
            assertEquals(TRUST_USER, scalarString(c, "SELECT current_user"));
        }
        assertEquals(bystanderPid, backendPid(bystander), "the bystander session kept its backend");
        try (Connection c = shortTimeoutProxy.connect(TRUST_USER, null, "app_trust")) {
            assertEquals("1", scalarString(c, "SELECT 1"));
        }
    }

    static long backendPid(Connection c) throws SQLException {
        return Long.parseLong(scalarString(c, "SELECT pg_backend_pid()"));
    }

    static String scalarString(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            assertTrue(rs.next());
            return rs.getString(1);
        }
    }

    static PgWire open() throws IOException {
        return PgWire.connect(proxy.port(), READ_TIMEOUT);
    }

    /** The reaction must be an ErrorResponse 08P01 or the connection closed; an ErrorResponse is followed by close. */
    static void assertProtocolViolationOrClose(PgWire w) throws IOException {
        assertErrorOrClose(w, "08P01");
    }

    /** Like {@link #assertProtocolViolationOrClose} with the SQLSTATEs accepted in an ErrorResponse. */
    static void assertErrorOrClose(PgWire w, String... sqlStates) throws IOException {
        Reaction r = w.awaitReaction();
        switch (r) {
            case Reaction.Closed closed -> { /* fine: closed */ }
            case Reaction.Error e -> {
                assertTrue(List.of(sqlStates).contains(e.sqlState()), "ErrorResponse " + e.fields());
                assertNotNull(e.fields().get('S'), "severity");
                assertNotNull(e.fields().get('M'), "message");
                assertTrue(w.awaitClosed(), "the proxy must close the connection after the protocol error");
            }
            case Reaction.Other o -> fail("expected 08P01 or close, got " + o.message());
        }
    }

    static Map<String, String> params(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    // ------------------------------------------------------------------ before startup

    @ParameterizedTest(name = "startup length {0}")
    @ValueSource(ints = {0, 3, 4, 7})
    void startupLengthBelowEight(int length) throws IOException {
        try (PgWire w = open()) {
            w.write(ints(length, PROTOCOL_3_0), "user\0trust_user\0\0".getBytes(StandardCharsets.US_ASCII));
            assertProtocolViolationOrClose(w);
        }
    }

    @ParameterizedTest(name = "startup length {0}")
    @ValueSource(ints = {0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 20_000, 1 << 30}) // limit: 10000
    void startupLengthOverTheLimitIsRefusedWithoutWaitingForTheBody(int length) throws IOException {
        try (PgWire w = open()) {
            w.write(ints(length, PROTOCOL_3_0), "user\0trust_user\0\0".getBytes(StandardCharsets.US_ASCII));
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void startupPacketOverTheLimitEvenWhenFullySent() throws IOException {
        String big = "x".repeat(20_000);
        try (PgWire w = open()) {
            w.write(startupMessage(PROTOCOL_3_0, params("user", TRUST_USER, "database", "app_trust", "application_name", big)));
            assertProtocolViolationOrClose(w);
        }
    }

    @ParameterizedTest(name = "garbage {0}")
    @ValueSource(strings = {"GET / HTTP/1.1\r\nHost: pgproxy\r\n\r\n", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003",
            "SSH-2.0-OpenSSH_9.2\r\n", "\u0000\u0000\u0000\u0010garbage-garbage"})
    void garbageBeforeStartup(String garbage) throws IOException {
        try (PgWire w = open()) {
            w.write(garbage.getBytes(StandardCharsets.ISO_8859_1));
            assertErrorOrClose(w, "08P01", "0A000"); // the last one has a plausible length and a garbage version
        }
    }

    @ParameterizedTest(name = "protocol version {0}")
    @ValueSource(ints = {0x0002_0000, 0x0004_0000, 0x0001_0000})
    void unknownProtocolVersionGetsAnErrorResponse(int version) throws IOException {
        try (PgWire w = open()) {
            w.write(startupMessage(version, params("user", TRUST_USER, "database", "app_trust")));
            assertEquals('E', w.readByte(), "an error first");
            // For a client that asked for protocol 1 or 2, PostgreSQL answers in the old format: 'E', then the
            // message as a C string, no length. For any other version: a v3 ErrorResponse with 0A000.
            byte[] rest = w.socket().getInputStream().readNBytes(4);
            int length = ByteBuffer.wrap(rest).getInt();
            if (version >> 16 < 3 && (length < 4 || length > 0xFFFF)) {
                byte[] text = concat(rest, w.socket().getInputStream().readNBytes(200));
                String message = new String(text, StandardCharsets.UTF_8);
                assertTrue(message.contains("protocol"), message);
            } else {
                byte[] body = w.socket().getInputStream().readNBytes(length - 4);
                Map<Character, String> f = fields(body);
                // PostgreSQL: 0A000 "unsupported frontend protocol"; 08P01 is also acceptable from a proxy
                assertTrue(List.of("0A000", "08P01").contains(f.get('C')), f.toString());
            }
            assertTrue(w.awaitClosed());
        }
    }

    @Test
    void truncatedStartupThenClose() throws IOException {
        byte[] startup = startupMessage(TRUST_USER, "app_trust");
        try (PgWire w = open()) {
            w.write(java.util.Arrays.copyOf(startup, startup.length / 2));
            w.shutdownOutput();
            // the proxy sees end of stream in the middle of the packet: it closes (an error is fine too)
            Reaction r = w.awaitReaction();
            assertFalse(r instanceof Reaction.Other, "unexpected " + r);
        }
    }

    @Test
    void silentClientPastTheStartupTimeoutIsDropped() throws IOException {
        try (PgWire w = PgWire.connect(shortTimeoutProxy.port(), READ_TIMEOUT)) {
            long t0 = System.nanoTime();
            assertProtocolViolationOrClose(w); // waits on the socket (SO_TIMEOUT 10 s > startup-timeout 1 s)
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms >= 800, "dropped after " + ms + " ms, before the 1 s startup-timeout");
        }
    }

    @Test
    void slowStartupIsBoundedByTheStartupTimeoutToo() throws IOException {
        byte[] startup = startupMessage(TRUST_USER, "app_trust");
        try (PgWire w = PgWire.connect(shortTimeoutProxy.port(), READ_TIMEOUT)) {
            w.write(java.util.Arrays.copyOf(startup, 6)); // the length and half the version, then silence
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void sslRequestIsAnsweredNAndStartupContinuesInPlaintext() throws IOException {
        try (PgWire w = open()) {
            w.write(sslRequest());
            assertEquals('N', w.readByte());
            List<Message> login = w.loginTrust(TRUST_USER, "app_trust");
            assertEquals('Z', login.getLast().tag());
            assertQueryWorks(w);
        }
    }

    @Test
    void gssEncRequestIsAnsweredNAndStartupContinuesInPlaintext() throws IOException {
        try (PgWire w = open()) {
            w.write(gssEncRequest());
            assertEquals('N', w.readByte());
            w.loginTrust(TRUST_USER, "app_trust");
            assertQueryWorks(w);
        }
    }

    /**
     * CVE-2021-23214 class: bytes that arrive together with the SSLRequest, before its answer, were never
     * protected by the handshake; PostgreSQL refuses them with 08P01. Never a login.
     */
    @Test
    void bytesPiggybackedOnAnSslRequestAreNotTakenAsAStartupPacket() throws IOException {
        try (PgWire w = open()) {
            w.write(sslRequest(), startupMessage(TRUST_USER, "app_trust"));
            assertPiggybackRefused(w);
        }
    }

    /**
     * PostgreSQL answers 'N' and then FATAL 08P01 "received unencrypted data after SSL request"; answering
     * the request with the ErrorResponse straight away is as safe (libpq reads an 'E' in place of the
     * answer byte as an error). Either way: 08P01 or close, never AuthenticationOk.
     */
    static void assertPiggybackRefused(PgWire w) throws IOException {
        int answer = w.readByte();
        if (answer == 'N') {
            Reaction r = w.awaitReaction();
            if (r instanceof Reaction.Other(Message m)) fail("the piggybacked StartupMessage was processed: got " + m);
            if (r instanceof Reaction.Error e) assertEquals("08P01", e.sqlState(), e.fields().toString());
        } else if (answer == 'E') {
            int length = ByteBuffer.wrap(w.socket().getInputStream().readNBytes(4)).getInt();
            assertTrue(length > 4 && length < 4096, "ErrorResponse length " + length);
            Map<Character, String> f = fields(w.socket().getInputStream().readNBytes(length - 4));
            assertEquals("08P01", f.get('C'), f.toString());
            assertTrue(w.awaitClosed(), "closed after the error");
        } else {
            assertEquals(-1, answer, "expected 'N', an ErrorResponse or close; got byte " + answer);
        }
    }

    @Test
    void gssEncRequestWithPiggybackedStartupIsRefusedToo() throws IOException {
        try (PgWire w = open()) {
            w.write(gssEncRequest(), startupMessage(TRUST_USER, "app_trust"));
            assertPiggybackRefused(w);
        }
    }

    @Test
    void protocol32StartupGetsNegotiateProtocolVersionThenLogsIn() throws IOException {
        try (PgWire w = open()) {
            w.write(startupMessage(PROTOCOL_3_2, params("user", TRUST_USER, "database", "app_trust", "_pq_.pgproxy_test", "1")));
            Message first = w.readMessage();
            assertNotNull(first, "closed instead of negotiating");
            assertEquals('v', first.tag(), "NegotiateProtocolVersion first, got " + first);
            ByteBuffer b = first.buffer();
            // The documentation says "newest minor version"; PostgreSQL (and libpq reading it) put the full
            // version there (196608 = 3.0). Either way it must not exceed what the client asked for.
            int newest = b.getInt();
            int newestMinor = newest >= PROTOCOL_3_0 ? newest - PROTOCOL_3_0 : newest;
            assertTrue(newestMinor >= 0 && newestMinor <= 2 && (newest < 3 || newest >> 16 == 3), "newest version " + newest);
            int unrecognized = b.getInt();
            List<String> options = new ArrayList<>();
            for (int i = 0; i < unrecognized; i++) options.add(cstring(b));
            assertEquals(List.of("_pq_.pgproxy_test"), options);
            List<Message> rest = w.readUntilReady();
            Message auth = rest.stream().filter(m -> m.tag() == 'R').findFirst().orElseThrow();
            assertEquals(0, auth.buffer().getInt(), "AuthenticationOk for trust");
            assertQueryWorks(w);
        }
    }

    // ------------------------------------------------------------------ during authentication

    @Test
    void aSecondStartupMessageDuringScramIsAProtocolViolation() throws IOException {
        try (PgWire w = open()) {
            w.write(startupMessage(SCRAM_USER, "app_trust"));
            Message sasl = w.readMessage();
            assertNotNull(sasl);
            assertEquals('R', sasl.tag());
            assertEquals(10, sasl.buffer().getInt(), "AuthenticationSASL");
            w.write(startupMessage(SCRAM_USER, "app_trust"));
            assertProtocolViolationOrClose(w);
        }
    }

    @ParameterizedTest(name = "inner length {0}")
    @ValueSource(ints = {0x7FFFFFF0, 1000, -2, 0xFFFFFFFF})
    void saslInitialResponseWhoseInnerLengthLies(int innerLength) throws IOException {
        try (PgWire w = open()) {
            w.write(startupMessage(SCRAM_USER, "app_trust"));
            assertEquals(10, w.readMessage().buffer().getInt());
            byte[] clientFirst = "n,,n=,r=abcdefghijklmnop".getBytes(StandardCharsets.US_ASCII);
            byte[] body = concat("SCRAM-SHA-256\0".getBytes(StandardCharsets.US_ASCII), ints(innerLength), clientFirst);
            w.write(frame('p', body));
            assertProtocolViolationOrClose(w);
        }
    }

    /** Starts a SCRAM login as scram_user and answers the challenge; returns the combined nonce for the client-final. */
    static String scramUpToClientFinal(PgWire w) throws IOException {
        w.write(startupMessage(SCRAM_USER, "app_trust"));
        assertEquals(10, w.readMessage().buffer().getInt());
        String clientNonce = Base64.getEncoder().encodeToString(randomBytes(18));
        byte[] clientFirst = ("n,,n=,r=" + clientNonce).getBytes(StandardCharsets.US_ASCII);
        w.write(frame('p', concat("SCRAM-SHA-256\0".getBytes(StandardCharsets.US_ASCII), ints(clientFirst.length), clientFirst)));
        Message cont = w.readMessage();
        assertNotNull(cont);
        ByteBuffer b = cont.buffer();
        assertEquals('R', cont.tag());
        assertEquals(11, b.getInt(), "AuthenticationSASLContinue");
        String serverFirst = new String(cont.body(), 4, cont.body().length - 4, StandardCharsets.US_ASCII);
        String nonce = serverFirst.substring(serverFirst.indexOf("r=") + 2, serverFirst.indexOf(','));
        assertTrue(nonce.startsWith(clientNonce));
        return nonce;
    }

    @Test
    void scramClientFinalMissingTheProofIsAProtocolViolation() throws IOException {
        try (PgWire w = open()) {
            String nonce = scramUpToClientFinal(w);
            w.write(frame('p', ("c=biws,r=" + nonce).getBytes(StandardCharsets.US_ASCII))); // no p= proof
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void scramClientFinalMissingTheChannelBindingIsAProtocolViolation() throws IOException {
        try (PgWire w = open()) {
            String nonce = scramUpToClientFinal(w);
            String proof = Base64.getEncoder().encodeToString(new byte[32]);
            w.write(frame('p', ("r=" + nonce + ",p=" + proof).getBytes(StandardCharsets.US_ASCII))); // no c=
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void saslInitialResponseFrameLengthOf0xFFFFFFFF() throws IOException {
        try (PgWire w = open()) {
            w.write(startupMessage(SCRAM_USER, "app_trust"));
            assertEquals(10, w.readMessage().buffer().getInt());
            w.write(concat(new byte[] {'p'}, ints(0xFFFFFFFF), "SCRAM-SHA-256\0".getBytes(StandardCharsets.US_ASCII)));
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void saslResponseFrameLengthOf0xFFFFFFFF() throws IOException {
        try (PgWire w = open()) {
            String nonce = scramUpToClientFinal(w);
            w.write(concat(new byte[] {'p'}, ints(0xFFFFFFFF), ("c=biws,r=" + nonce).getBytes(StandardCharsets.US_ASCII)));
            assertProtocolViolationOrClose(w);
        }
    }

    // ------------------------------------------------------------------ after authentication

    @Test
    void frameLengthBelowFourAfterLogin() throws IOException {
        try (PgWire w = loggedIn()) {
            w.write(new byte[] {'Q'}, ints(3));
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void frameLengthOverTheLimitAfterLogin() throws IOException {
        try (PgWire w = loggedIn()) {
            w.write(new byte[] {'Q'}, ints(0x7FFFFFFF), "SELECT 1\0".getBytes(StandardCharsets.US_ASCII));
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void negativeFrameLengthAfterLogin() throws IOException {
        try (PgWire w = loggedIn()) {
            w.write(new byte[] {'Q'}, ints(0xFFFFFFFF), "SELECT 1\0".getBytes(StandardCharsets.US_ASCII));
            assertProtocolViolationOrClose(w);
        }
    }

    @ParameterizedTest(name = "tag 0x{0}")
    @ValueSource(chars = {'y', 'Z', '\u0000', '\u00ff'}) // none is a frontend message type
    void unknownFrontendTagAfterLogin(char tag) throws IOException {
        try (PgWire w = loggedIn()) {
            w.write(frame(tag, new byte[0]));
            assertProtocolViolationOrClose(w);
        }
    }

    @Test
    void truncatedFrameThenClose() throws IOException {
        try (PgWire w = loggedIn()) {
            w.write(new byte[] {'Q'}, ints(100), "SELECT 1".getBytes(StandardCharsets.US_ASCII));
        }
        // the @AfterEach check needs the route's single backend back: a half-sent message must not leak it
    }

    @Test
    void startupMessageAgainAfterLogin() throws IOException {
        try (PgWire w = loggedIn()) {
            w.write(startupMessage(TRUST_USER, "app_trust")); // untagged: its first byte (0) is not a tag
            assertProtocolViolationOrClose(w);
        }
    }

    // ------------------------------------------------------------------ cancel

    @Test
    void aForgedCancelRequestCancelsNothing() throws Exception {
        try (Connection victim = proxy.connect(TRUST_USER, null, "app_trust"); Statement st = victim.createStatement();
             Connection su = pg.superuser(pg.db())) {
            int proxyPid = victim.unwrap(PGConnection.class).getBackendPID(); // what the proxy told the client
            long t0 = System.nanoTime();
            CompletableFuture<Boolean> sleeping = CompletableFuture.supplyAsync(() -> {
                try (ResultSet rs = st.executeQuery("SELECT pg_sleep(2), 'done'")) {
                    return rs.next() && "done".equals(rs.getString(2));
                } catch (SQLException e) {
                    throw new IllegalStateException(e.getSQLState() + " " + e.getMessage(), e);
                }
            });
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() ->
                    "1".equals(scalarString(su, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(2)%'")));
            int realPid = Integer.parseInt(scalarString(su, "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2)%' AND state = 'active'"));
            SecureRandom random = new SecureRandom();
            for (int pid : new int[] {proxyPid, realPid, random.nextInt()}) {
                try (PgWire w = open()) {
                    w.write(cancelRequest(pid, random.nextInt()));
                    assertTrue(w.awaitClosed(), "a CancelRequest gets no answer, only a close");
                }
            }
            assertTrue(sleeping.get(20, TimeUnit.SECONDS), "the query must complete normally");
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(1900), "pg_sleep(2) ran to its end");
        }
    }

    @Test
    void cancelRequestWithTrailingBytesOrWrongLength() throws IOException {
        try (PgWire w = open()) {
            w.write(ints(12, CANCEL_REQUEST_CODE, 1)); // too short for a CancelRequest
            assertProtocolViolationOrClose(w);
        }
    }

    // ------------------------------------------------------------------ helpers

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    static PgWire loggedIn() throws IOException {
        PgWire w = open();
        try {
            w.loginTrust(TRUST_USER, "app_trust");
            return w;
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** SELECT 1 over the raw connection: RowDescription, DataRow "1", CommandComplete, ReadyForQuery. */
    static void assertQueryWorks(PgWire w) throws IOException {
        w.write(query("SELECT 1"));
        List<Message> reply = w.readUntilReady();
        assertEquals("TDCZ", reply.stream().map(m -> String.valueOf(m.tag())).reduce("", String::concat));
        ByteBuffer row = reply.get(1).buffer();
        assertEquals(1, row.getShort());
        assertEquals(1, row.getInt());
        assertEquals('1', row.get());
    }
}
