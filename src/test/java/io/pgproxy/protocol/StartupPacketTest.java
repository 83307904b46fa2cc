package io.pgproxy.protocol;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StartupPacketTest {
    private static StartupPacket read(byte[] bytes) throws IOException {
        return StartupPacket.read(Channels.newChannel(new ByteArrayInputStream(bytes)), 10000);
    }

    @Test
    void decodesAStartupMessage() throws IOException {
        byte[] p = new MessageBuilder().beginUntagged().int32(196608).cstring("user").cstring("alice")
                .cstring("database").cstring("app").int8(0).end().toByteArray();
        StartupPacket.StartupMessage m = assertInstanceOf(StartupPacket.StartupMessage.class, read(p));
        assertEquals(Map.of("user", "alice", "database", "app"), m.parameters());
        assertEquals(3, m.majorVersion());
        assertEquals(0, m.minorVersion());
    }

    @Test
    void aStartupMessageTheProxyEncodesDecodesToItself() throws IOException {
        java.util.Map<String, String> login = new java.util.LinkedHashMap<>();
        login.put("user", "app");
        login.put("database", "db");
        StartupPacket.StartupMessage m = new StartupPacket.StartupMessage(StartupPacket.PROTOCOL_3_0, login);
        assertEquals(m, read(m.encode()));
    }

    @Test
    void acceptsMinorVersionTwo() throws IOException {
        byte[] p = new MessageBuilder().beginUntagged().int32(196610).cstring("user").cstring("a").int8(0).end().toByteArray();
        assertEquals(2, ((StartupPacket.StartupMessage) read(p)).minorVersion());
    }

    @Test
    void decodesSslGssAndCancelRequests() throws IOException {
        assertInstanceOf(StartupPacket.SslRequest.class, read(new byte[]{0, 0, 0, 8, 4, (byte) 0xd2, 0x16, 0x2f}));
        assertInstanceOf(StartupPacket.GssEncRequest.class, read(new byte[]{0, 0, 0, 8, 4, (byte) 0xd2, 0x16, 0x30}));
        StartupPacket.CancelRequest c = assertInstanceOf(StartupPacket.CancelRequest.class,
                read(new byte[]{0, 0, 0, 16, 4, (byte) 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 1, 2, 3, 4}));
        assertEquals(7, c.processId());
        assertArrayEquals(new byte[]{1, 2, 3, 4}, c.secretKey());
    }

    @Test
    void rejectsBadLengths() {
        assertEquals("08P01", assertThrows(ProtocolException.class, () -> read(new byte[]{0, 0, 0, 4, 0, 3, 0, 0})).sqlState());
        assertThrows(ProtocolException.class, () -> read(new byte[]{0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0, 3, 0, 0}));
        assertThrows(ProtocolException.class, () -> read(new byte[]{(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0, 3, 0, 0}));
    }

    @Test
    void rejectsProtocolTwoWithFeatureNotSupported() {
        ProtocolException e = assertThrows(ProtocolException.class, () -> read(new byte[]{0, 0, 0, 9, 0, 2, 0, 0, 0}));
        assertEquals("0A000", e.sqlState());
    }

    @Test
    void rejectsGarbageBeforeStartup() {
        byte[] http = "GET / HTTP/1.1\r\n\r\n".getBytes();
        assertThrows(ProtocolException.class, () -> read(http));
    }

    @Test
    void rejectsUnterminatedParameters() {
        byte[] p = {0, 0, 0, 13, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0};
        assertThrows(ProtocolException.class, () -> read(p));
    }

    @Test
    void truncatedPacketIsEndOfStream() {
        assertThrows(EOFException.class, () -> read(new byte[]{0, 0, 0, 40, 0, 3, 0, 0, 'u'}));
    }
}
