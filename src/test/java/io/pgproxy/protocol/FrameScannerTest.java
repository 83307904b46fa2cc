package io.pgproxy.protocol;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrameScannerTest {
    /** Inspects 'Z', stops at 'X', passes everything else. */
    private static final class Recorder extends FrameScanner {
        final List<String> seen = new ArrayList<>();

        @Override
        protected int onHeader(byte tag, int length) {
            seen.add((char) tag + ":" + length);
            return tag == 'Z' ? INSPECT : tag == 'X' ? STOP : PASS;
        }

        @Override
        protected void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) {
            seen.add("body " + (char) buffer.get(bodyStart) + "/" + bodyLength);
        }
    }

    private static ByteBuffer bytes(int... b) {
        ByteBuffer buf = ByteBuffer.allocate(64);
        for (int x : b) {
            buf.put((byte) x);
        }
        return buf.flip();
    }

    @Test
    void anInspectedMessageSplitAcrossReadsIsDecidedOnce() throws IOException {
        Recorder r = new Recorder();
        ByteBuffer first = bytes('Z', 0, 0, 0, 5);
        assertEquals(0, r.scan(first), "nothing relayed before the body is in");
        ByteBuffer whole = bytes('Z', 0, 0, 0, 5, 'I');
        assertEquals(6, r.scan(whole));
        assertEquals(List.of("Z:5", "body I/1"), r.seen, "the header was decided (and counted) once");
    }

    @Test
    void aCutEndsTheScanBeforeTheMessageAndTheCallerPassesItsBody() throws IOException {
        List<String> seen = new ArrayList<>();
        FrameScanner s = new FrameScanner() {
            @Override
            protected int onHeader(byte tag, int length) {
                seen.add((char) tag + " peek " + (peekable() > 0 ? (char) peek(0) : '-'));
                return tag == 'B' ? CUT : PASS;
            }

            @Override
            protected void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) {
            }
        };
        ByteBuffer b = bytes('H', 0, 0, 0, 4, 'B', 0, 0, 0, 7, 'x', 'y', 'z', 'S', 0, 0, 0, 4);
        assertEquals(5, s.scan(b));
        assertTrue(s.cutRequested());
        // The caller consumed 'B', its length and one body byte, and lets two more pass.
        b.position(11);
        s.passBody(2);
        assertEquals(b.limit(), s.scan(b));
        assertFalse(s.cutRequested());
        assertEquals(List.of("H peek B", "B peek x", "S peek -"), seen);
    }

    @Test
    void passesWholeMessagesAndInspectsReadyForQuery() throws IOException {
        Recorder r = new Recorder();
        // CommandComplete "SELECT 1" then ReadyForQuery 'I'
        ByteBuffer b = bytes('C', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, 'Z', 0, 0, 0, 5, 'I');
        assertEquals(b.limit(), r.scan(b));
        assertTrue(r.atBoundary());
        assertEquals(List.of("C:13", "Z:5", "body I/1"), r.seen);
    }

    @Test
    void streamsBodiesAcrossReads() throws IOException {
        Recorder r = new Recorder();
        // DataRow of length 20 but only 7 bytes of it present
        ByteBuffer first = bytes('D', 0, 0, 0, 20, 1, 2);
        assertEquals(7, r.scan(first));
        assertFalse(r.atBoundary());
        ByteBuffer rest = ByteBuffer.allocate(14).put(new byte[14]).flip();
        assertEquals(14, r.scan(rest));
        assertTrue(r.atBoundary());
    }

    @Test
    void keepsAPartialHeaderForTheNextRead() throws IOException {
        Recorder r = new Recorder();
        ByteBuffer b = bytes('C', 0, 0, 0, 4, 'Z', 0, 0);
        assertEquals(5, r.scan(b));
        assertTrue(r.atBoundary());
        assertEquals(List.of("C:4"), r.seen);
    }

    @Test
    void waitsForAWholeInspectedMessage() throws IOException {
        Recorder r = new Recorder();
        ByteBuffer b = bytes('Z', 0, 0, 0, 5);
        assertEquals(0, r.scan(b));
        assertEquals(List.of("Z:5"), r.seen);
    }

    @Test
    void stopsBeforeTheStoppingMessage() throws IOException {
        Recorder r = new Recorder();
        ByteBuffer b = bytes('S', 0, 0, 0, 4, 'X', 0, 0, 0, 4);
        assertEquals(5, r.scan(b));
        assertTrue(r.stopped());
    }

    @Test
    void rejectsLengthsBelowFour() {
        Recorder r = new Recorder();
        ProtocolException e = assertThrows(ProtocolException.class, () -> r.scan(bytes('Q', 0, 0, 0, 3)));
        assertEquals("08P01", e.sqlState());
        assertThrows(ProtocolException.class, () -> new Recorder().scan(bytes('Q', 0xFF, 0xFF, 0xFF, 0xFF)));
    }

    @Test
    void rejectsAnInspectedMessageLargerThanTheBuffer() {
        Recorder r = new Recorder();
        assertThrows(ProtocolException.class, () -> r.scan(bytes('Z', 0, 0, 1, 0)));
    }
    @Test
    void defersAMessageTooLargeForThisBufferWithoutConsumingIt() throws IOException {
        FrameScanner deferring = new FrameScanner() {
            @Override
            protected int onHeader(byte tag, int length) {
                return 1L + length > capacity() ? DEFER : PASS;
            }

            @Override
            protected void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) {
            }
        };
        ByteBuffer small = bytes('S', 0, 0, 0, 4, 'Q', 0, 0, 1, 0, 'x');
        assertEquals(5, deferring.scan(small), "the Sync passes, the Query waits for a larger buffer");
        assertTrue(deferring.atBoundary());
        ByteBuffer large = ByteBuffer.allocate(1024);
        large.put(new byte[]{'Q', 0, 0, 1, 0}).put(new byte[252]).flip();
        assertEquals(257, deferring.scan(large));
    }
}
