package io.pgproxy.protocol.message;

import io.pgproxy.protocol.ProtocolException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MessagesTest {
    private static ByteBuffer body(byte[] message) {
        return ByteBuffer.wrap(message, 5, message.length - 5).slice();
    }

    @Test
    void readyForQueryFromLiteralBytes() throws ProtocolException {
        assertEquals(TransactionStatus.IDLE, ReadyForQuery.decode(ByteBuffer.wrap(new byte[]{'I'})).status());
        assertEquals(TransactionStatus.IN_TRANSACTION, ReadyForQuery.decode(ByteBuffer.wrap(new byte[]{'T'})).status());
        assertEquals(TransactionStatus.FAILED, ReadyForQuery.decode(ByteBuffer.wrap(new byte[]{'E'})).status());
        assertEquals(TransactionStatus.UNKNOWN, ReadyForQuery.decode(ByteBuffer.wrap(new byte[]{'?'})).status());
        assertArrayEquals(new byte[]{'Z', 0, 0, 0, 5, 'I'}, new ReadyForQuery(TransactionStatus.IDLE).encode());
    }

    @Test
    void errorResponseRoundTripsAndToleratesMissingSqlState() throws ProtocolException {
        byte[] wire = ErrorResponse.fatal("53300", "too many").encode();
        assertEquals('E', wire[0]);
        ErrorResponse e = ErrorResponse.decode(body(wire));
        assertEquals("53300", e.sqlState());
        assertEquals("too many", e.message());
        assertTrue(e.isFatal());
        ErrorResponse bare = ErrorResponse.decode(ByteBuffer.wrap(new byte[]{'M', 'x', 0, 0}));
        assertEquals("XX000", bare.sqlState());
        assertEquals("ERROR", bare.severity());
    }

    @Test
    void errorResponseWithUnterminatedFieldIsRejected() {
        assertThrows(ProtocolException.class, () -> ErrorResponse.decode(ByteBuffer.wrap(new byte[]{'M', 'x'})));
    }

    @Test
    void parameterStatusRoundTrips() throws ProtocolException {
        byte[] wire = new ParameterStatus("TimeZone", "UTC").encode();
        assertEquals(new ParameterStatus("TimeZone", "UTC"), ParameterStatus.decode(body(wire)));
    }

    @Test
    void authenticationRequestsDecode() throws ProtocolException {
        assertInstanceOf(Authentication.Ok.class, Authentication.decode(body(new Authentication.Ok().encode())));
        Authentication.Sasl sasl = (Authentication.Sasl) Authentication.decode(
                body(new Authentication.Sasl(List.of("SCRAM-SHA-256", "SCRAM-SHA-256-PLUS")).encode()));
        assertEquals(List.of("SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"), sasl.mechanisms());
        Authentication.Md5Password md5 = (Authentication.Md5Password) Authentication.decode(
                body(new Authentication.Md5Password(new byte[]{1, 2, 3, 4}).encode()));
        assertArrayEquals(new byte[]{1, 2, 3, 4}, md5.salt());
        assertInstanceOf(Authentication.Unsupported.class, Authentication.decode(ByteBuffer.wrap(new byte[]{0, 0, 0, 7})));
        assertThrows(ProtocolException.class, () -> Authentication.decode(ByteBuffer.wrap(new byte[]{0, 0, 0, 5, 1})));
    }

    @Test
    void saslInitialResponseWhoseInnerLengthLiesIsRejected() throws ProtocolException {
        byte[] good = new SaslInitialResponse("SCRAM-SHA-256", "n,,n=,r=abc".getBytes()).encode();
        assertEquals("SCRAM-SHA-256", SaslInitialResponse.decode(body(good)).mechanism());
        byte[] lying = good.clone();
        lying[5 + "SCRAM-SHA-256".length() + 1 + 3] = 100; // inner length byte
        assertThrows(ProtocolException.class, () -> SaslInitialResponse.decode(body(lying)));
    }

    @Test
    void backendKeyDataBoundsTheSecret() throws ProtocolException {
        BackendKeyData k = BackendKeyData.decode(body(new BackendKeyData(42, new byte[]{9, 8, 7, 6}).encode()));
        assertEquals(42, k.processId());
        assertThrows(ProtocolException.class, () -> BackendKeyData.decode(ByteBuffer.wrap(new byte[]{0, 0, 0, 1, 1})));
    }

    @Test
    void negotiateProtocolVersionLayout() {
        byte[] wire = new NegotiateProtocolVersion(0, List.of("_pq_.x")).encode();
        ByteBuffer b = ByteBuffer.wrap(wire);
        assertEquals('v', b.get());
        assertEquals(wire.length - 1, b.getInt());
        assertEquals(196608, b.getInt());
        assertEquals(1, b.getInt());
    }

    @Test
    void passwordMessageNeverPrintsThePassword() {
        assertEquals("PasswordMessage[***]", new PasswordMessage("secret").toString());
    }
}
