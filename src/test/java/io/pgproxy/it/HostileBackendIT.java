package io.pgproxy.it;

import io.pgproxy.fixtures.ProxyFixture;
import io.pgproxy.protocol.message.Authentication;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A backend that lies while the proxy logs in to it: a SCRAM iteration count or a nonce past the
 * proxy's caps, or an AuthenticationOk before it proved it knows the verifier. A tiny server speaking only the authentication messages stands in for PostgreSQL
 * here, since no real one sends these; the client gets a clear error and the proxy stays up.
 */
@Timeout(30)
class HostileBackendIT {
    private static final Pattern CLIENT_NONCE = Pattern.compile("r=([^,]+)");

    private ServerSocket backend;
    /** What the fake backend puts in its server-first-message after the client's nonce. */
    private volatile String serverFirstTail;
    /** Answer an SSLRequest with S and then say nothing, instead of the SCRAM conversation. */
    private volatile boolean stallTls;

    @BeforeEach
    void startFakeBackend() throws IOException {
        backend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!backend.isClosed()) {
                try {
                    Socket s = backend.accept();
                    Thread.ofVirtual().start(() -> serve(s));
                } catch (IOException closed) {
                    return;
                }
            }
        });
    }

    @AfterEach
    void stop() throws IOException {
        backend.close();
    }

    /** StartupMessage, then SASL: the proxy's client-first-message is answered with the hostile server-first. */
    private void serve(Socket s) {
        try (s; DataInputStream in = new DataInputStream(s.getInputStream()); OutputStream out = s.getOutputStream()) {
            in.readFully(new byte[in.readInt() - 4]);
            if (stallTls) {
                out.write('S');
                out.flush();
                while (in.read() >= 0) {
                    // The ClientHello, never answered, until the proxy gives up and hangs up.
                }
                return;
            }
            out.write(new Authentication.Sasl(List.of("SCRAM-SHA-256")).encode());
            out.flush();
            in.readByte(); // 'p': SASLInitialResponse
            byte[] body = new byte[in.readInt() - 4];
            in.readFully(body);
            Matcher m = CLIENT_NONCE.matcher(new String(body, StandardCharsets.UTF_8));
            assertTrue(m.find());
            String serverFirst = "r=" + m.group(1).trim() + serverFirstTail;
            out.write(new Authentication.SaslContinue(serverFirst.getBytes(StandardCharsets.UTF_8)).encode());
            out.flush();
            in.readByte(); // 'p': SASLResponse (client-final), or EOF when the proxy refused the server-first
            in.readFully(new byte[in.readInt() - 4]);
            // AuthenticationOk without the server-final-message: the server never proves it knows the verifier.
            out.write(new Authentication.Ok().encode());
            out.flush();
            in.readByte(); // the proxy hangs up: EOF ends the conversation
        } catch (IOException expected) {
            // The proxy closed the connection, as it should.
        }
    }

    private String config(String limits) {
        return config(limits, "disable");
    }

    private String config(String limits, String sslmode) {
        return """
                pgproxy {
                  listen { host = "127.0.0.1", port = 0 }
                  limits { %s }
                  pool { server-connect-timeout = 500ms }
                  users { trust_user { auth = trust } }
                  databases { hostile { host = "127.0.0.1", port = %d, user = victim, password = secret, sslmode = %s } }
                }
                """.formatted(limits, backend.getLocalPort(), sslmode);
    }

    private static String salt() {
        return Base64.getEncoder().encodeToString(new byte[16]);
    }

    private static SQLException loginFails(ProxyFixture proxy) {
        return assertThrows(SQLException.class, () -> {
            try (Connection c = proxy.connect("trust_user", null, "hostile")) {
                c.createStatement().execute("SELECT 1");
            }
        });
    }

    @Test
    void aBillionIterationsAreRefusedPastTheCap() throws SQLException {
        serverFirstTail = "srv,s=" + salt() + ",i=1000000000";
        try (ProxyFixture proxy = ProxyFixture.start(config(""))) {
            SQLException e = loginFails(proxy);
            assertEquals("08P01", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("max-scram-iterations"), e.getMessage());
            assertStillServes(proxy);
        }
    }

    @Test
    void aMegabyteServerFirstMessageIsRefusedPastTheMessageCap() throws SQLException {
        serverFirstTail = "x".repeat(1 << 20) + ",s=" + salt() + ",i=4096";
        try (ProxyFixture proxy = ProxyFixture.start(config(""))) {
            SQLException e = loginFails(proxy);
            assertEquals("08001", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("limit 65536"), e.getMessage());
            assertStillServes(proxy);
        }
    }

    @Test
    void aNonceIsRefusedPastTheNonceCap() throws SQLException {
        // Within the message cap and SCRAM's own 4096-byte message bound: the nonce's cap answers.
        serverFirstTail = "x".repeat(600) + ",s=" + salt() + ",i=4096";
        try (ProxyFixture proxy = ProxyFixture.start(config("max-scram-nonce-length = 512"))) {
            SQLException e = loginFails(proxy);
            assertEquals("08P01", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("max-scram-nonce-length"), e.getMessage());
            assertStillServes(proxy);
        }
    }

    @Test
    void aBackendThatSkipsItsProofIsRefused() throws SQLException {
        serverFirstTail = "srv,s=" + salt() + ",i=4096";
        try (ProxyFixture proxy = ProxyFixture.start(config(""))) {
            SQLException e = loginFails(proxy);
            assertEquals("08001", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("without proving"), e.getMessage());
            assertStillServes(proxy);
        }
    }

    @Test
    void aStalledTlsHandshakeEndsAtTheConnectTimeout() throws SQLException {
        stallTls = true;
        try (ProxyFixture proxy = ProxyFixture.start(config("", "require"))) {
            SQLException e = loginFails(proxy);
            assertEquals("08001", e.getSQLState(), e.getMessage());
            assertTrue(e.getMessage().contains("no answer within 500 ms"), e.getMessage());
            assertStillServes(proxy);
        }
    }

    /** The proxy itself is unharmed: its admin-free path, a refused login of an unknown database, still answers. */
    private static void assertStillServes(ProxyFixture proxy) {
        SQLException e = assertThrows(SQLException.class, () -> proxy.connect("trust_user", null, "no_such_db").close());
        assertEquals("3D000", e.getSQLState(), e.getMessage());
    }
}
