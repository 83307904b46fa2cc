package io.pgproxy.client;

import io.pgproxy.auth.AuthException;
import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.UserConfig;
import io.pgproxy.fixtures.TestPki;
import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.PasswordMessage;
import io.pgproxy.protocol.message.SaslInitialResponse;
import io.pgproxy.protocol.message.SaslResponse;
import io.pgproxy.tls.Certificates;
import io.pgproxy.tls.ClientTls;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The authenticator's exchanges over a TLS session built here (a test-time certificate and its
 * tls-server-end-point hash), on a UNIX socket pair: what is offered, what a client must send
 * back, and how each wrong answer ends. The test plays the client, computing SCRAM itself.
 */
@Timeout(30)
class ClientAuthenticatorTest {
    private static final String PASSWORD = "pencil";
    private static final UserLookup ALICE = new UserLookup.Known(
            new UserConfig("alice", AuthMethod.SCRAM_SHA_256, ScramVerifier.fromPassword(PASSWORD, 4096).encode()));
    private static ClientTls tls;
    private static byte[] otherEndPoint;

    @TempDir
    Path dir;
    private ServerSocketChannel listener;
    private SocketChannel client;
    private SocketChannel proxySide;
    private MessageReader fromProxy;

    @BeforeAll
    static void certificates(@TempDir Path pkiDir) {
        TestPki pki = TestPki.create(pkiDir, "authenticator-ca");
        byte[] endPoint = Certificates.tlsServerEndPoint(pki.server("proxy", TestPki.KeyFormat.PKCS8, null, "localhost").x509());
        otherEndPoint = Certificates.tlsServerEndPoint(pki.server("mitm", TestPki.KeyFormat.PKCS8, null, "localhost").x509());
        tls = new ClientTls("TLSv1.3", "TLS_AES_128_GCM_SHA256", List.of(), endPoint);
    }

    @BeforeEach
    void connect() throws IOException {
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(dir.resolve("s"));
        listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(address);
        client = SocketChannel.open(address);
        proxySide = listener.accept();
        fromProxy = new MessageReader(client);
    }

    @AfterEach
    void close() throws IOException {
        client.close();
        proxySide.close();
        listener.close();
    }

    /** Runs the authenticator on its own thread; completes with null on success, else with what it threw. */
    private CompletableFuture<Exception> authenticate(AuthMethod method, UserLookup user, ClientTls session) {
        CompletableFuture<Exception> done = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                new ClientAuthenticator(new ClientChannel(proxySide), new MessageReader(proxySide), 10_000, session)
                        .authenticate(method, user, () -> ScramVerifier.parse(((UserLookup.Known) user).user().secret()));
                done.complete(null);
            } catch (Exception e) {
                done.complete(e);
            }
        });
        return done;
    }

    private Authentication read() throws IOException {
        Frame f = fromProxy.read(10_000);
        assertEquals('R', f.tagChar());
        return Authentication.decode(f.body());
    }

    private void send(byte[] message) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(message);
        while (b.hasRemaining()) {
            client.write(b);
        }
    }

    private static String sqlState(CompletableFuture<Exception> done) throws Exception {
        Exception e = done.get(20, TimeUnit.SECONDS);
        return assertInstanceOf(AuthException.class, e, String.valueOf(e)).sqlState();
    }

    /** A SCRAM client: sends client-first with {@code gs2}, answers the challenge binding to {@code cbindData}. */
    private void scramClient(String mechanism, String gs2, byte[] cbindData, String password) throws Exception {
        String bare = "n=,r=clientnonce";
        send(new SaslInitialResponse(mechanism, (gs2 + bare).getBytes(StandardCharsets.UTF_8)).encode());
        Authentication cont = read();
        String serverFirst = new String(assertInstanceOf(Authentication.SaslContinue.class, cont).data(), StandardCharsets.UTF_8);
        String[] parts = serverFirst.split(",");
        byte[] salt = Base64.getDecoder().decode(parts[1].substring(2));
        int iterations = Integer.parseInt(parts[2].substring(2));
        byte[] header = gs2.getBytes(StandardCharsets.UTF_8);
        byte[] cbind = cbindData == null ? header : concat(header, cbindData);
        String withoutProof = "c=" + Base64.getEncoder().encodeToString(cbind) + "," + parts[0];
        byte[] salted = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                .generateSecret(new PBEKeySpec(password.toCharArray(), salt, iterations, 256)).getEncoded();
        byte[] clientKey = hmac(salted, "Client Key".getBytes(StandardCharsets.UTF_8));
        byte[] storedKey = MessageDigest.getInstance("SHA-256").digest(clientKey);
        byte[] signature = hmac(storedKey, (bare + "," + serverFirst + "," + withoutProof).getBytes(StandardCharsets.UTF_8));
        byte[] proof = new byte[clientKey.length];
        for (int i = 0; i < proof.length; i++) {
            proof[i] = (byte) (clientKey[i] ^ signature[i]);
        }
        send(new SaslResponse((withoutProof + ",p=" + Base64.getEncoder().encodeToString(proof)).getBytes(StandardCharsets.UTF_8)).encode());
    }

    private static byte[] hmac(byte[] key, byte[] data) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return mac.doFinal(data);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void overTlsBothMechanismsAreOfferedAndPlusBoundToTheProxysCertificateLogsIn() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256, ALICE, tls);
        assertEquals(List.of("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"), assertInstanceOf(Authentication.Sasl.class, read()).mechanisms());
        scramClient("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", tls.serverEndPoint(), PASSWORD);
        assertInstanceOf(Authentication.SaslFinal.class, read());
        assertNull(done.get(20, TimeUnit.SECONDS));
    }

    @Test
    void plusBoundToAnotherCertificateIsRefused() throws Exception {
        // A TLS-terminating man in the middle: the client sees, and binds to, the middle's certificate.
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256, ALICE, tls);
        read();
        scramClient("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", otherEndPoint, PASSWORD);
        assertEquals("08P01", sqlState(done));
    }

    @Test
    void aClientSayingYWhilePlusWasOfferedIsADowngrade() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256, ALICE, tls);
        read();
        send(new SaslInitialResponse("SCRAM-SHA-256", "y,,n=,r=abc".getBytes(StandardCharsets.UTF_8)).encode());
        assertEquals("08P01", sqlState(done));
    }

    @Test
    void plainScramWithoutBindingIsAcceptedWhereNotRequired() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256, ALICE, tls);
        read();
        scramClient("SCRAM-SHA-256", "n,,", null, PASSWORD);
        assertInstanceOf(Authentication.SaslFinal.class, read());
        assertNull(done.get(20, TimeUnit.SECONDS));
    }

    @Test
    void aPlusOnlyMethodOffersOnlyPlusAndRefusesPlainScram() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256_PLUS, ALICE, tls);
        assertEquals(List.of("SCRAM-SHA-256-PLUS"), assertInstanceOf(Authentication.Sasl.class, read()).mechanisms());
        send(new SaslInitialResponse("SCRAM-SHA-256", "n,,n=,r=abc".getBytes(StandardCharsets.UTF_8)).encode());
        assertEquals("08P01", sqlState(done));
    }

    @Test
    void aPlusOnlyMethodLogsInWithTheBinding() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256_PLUS, ALICE, tls);
        read();
        scramClient("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", tls.serverEndPoint(), PASSWORD);
        assertInstanceOf(Authentication.SaslFinal.class, read());
        assertNull(done.get(20, TimeUnit.SECONDS));
    }

    @Test
    void plusWithAWrongPasswordIs28P01() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256_PLUS, ALICE, tls);
        read();
        scramClient("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", tls.serverEndPoint(), "wrong");
        assertEquals("28P01", sqlState(done));
    }

    @Test
    void anUnknownUserOverTlsGetsTheSameOfferAndFailsAtTheProof() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256, new UserLookup.Unknown("nobody"), tls);
        assertEquals(List.of("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"), assertInstanceOf(Authentication.Sasl.class, read()).mechanisms());
        scramClient("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", tls.serverEndPoint(), PASSWORD);
        Exception e = done.get(20, TimeUnit.SECONDS);
        assertEquals("28P01", assertInstanceOf(AuthException.class, e).sqlState());
        assertEquals("password authentication failed for user \"nobody\"", e.getMessage());
    }

    @Test
    void plaintextOffersOnlyScram() throws Exception {
        CompletableFuture<Exception> done = authenticate(AuthMethod.SCRAM_SHA_256, ALICE, null);
        assertEquals(List.of("SCRAM-SHA-256"), assertInstanceOf(Authentication.Sasl.class, read()).mechanisms());
        send(new SaslInitialResponse("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc".getBytes(StandardCharsets.UTF_8)).encode());
        assertEquals("08P01", sqlState(done));
    }

    @Test
    void aCleartextPasswordOverTlsIsCheckedAgainstTheVerifier() throws Exception {
        CompletableFuture<Exception> ok = authenticate(AuthMethod.PASSWORD, ALICE, tls);
        assertInstanceOf(Authentication.CleartextPassword.class, read());
        send(new PasswordMessage(PASSWORD).encode());
        assertNull(ok.get(20, TimeUnit.SECONDS));
    }

    @Test
    void aWrongCleartextPasswordIs28P01() throws Exception {
        CompletableFuture<Exception> wrong = authenticate(AuthMethod.PASSWORD, ALICE, tls);
        assertInstanceOf(Authentication.CleartextPassword.class, read());
        send(new PasswordMessage("Pencil").encode());
        assertEquals("28P01", sqlState(wrong));
    }

    @Test
    void trustAndCertExchangeNothing() throws Exception {
        for (AuthMethod m : List.of(AuthMethod.TRUST, AuthMethod.CERT)) {
            assertNull(authenticate(m, ALICE, tls).get(20, TimeUnit.SECONDS), m.name());
        }
        proxySide.close();
        assertTrue(client.read(ByteBuffer.allocate(1)) < 0, "nothing was sent to the client");
    }
}
