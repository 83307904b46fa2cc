package io.pgproxy.tls;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.util.ArrayDeque;
import java.util.Deque;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ReadAheadChannelTest {
    /** Hands out its chunks one read at a time, counting the reads. */
    static final class Chunks implements ByteChannel {
        final Deque<byte[]> chunks = new ArrayDeque<>();
        int reads;

        @Override
        public int read(ByteBuffer dst) {
            reads++;
            byte[] c = chunks.poll();
            if (c == null) {
                return -1;
            }
            int n = Math.min(c.length, dst.remaining());
            dst.put(c, 0, n);
            if (n < c.length) {
                chunks.push(java.util.Arrays.copyOfRange(c, n, c.length));
            }
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void peekTakesOnlyTheFirstByteAndReadsGiveItBackFirst() throws IOException {
        Chunks in = new Chunks();
        in.chunks.add(new byte[] {0x16, 3, 1, 0, 5});
        ReadAheadChannel c = new ReadAheadChannel(in);
        assertEquals(0x16, c.peek());
        assertEquals(0x16, c.peek(), "peeking again reads nothing more");
        assertEquals(1, in.reads);
        ByteBuffer dst = ByteBuffer.allocate(10);
        assertEquals(1, c.read(dst));
        assertEquals(4, c.read(dst));
        assertArrayEquals(new byte[] {0x16, 3, 1, 0, 5}, java.util.Arrays.copyOf(dst.array(), 5));
    }

    @Test
    void awaitInputKeepsAWholeSmallRecordForTheNextReadsAndEndOfStreamStays() throws IOException {
        Chunks in = new Chunks();
        byte[] record = new byte[300];
        for (int i = 0; i < record.length; i++) {
            record[i] = (byte) i;
        }
        in.chunks.add(record);
        ReadAheadChannel c = new ReadAheadChannel(in);
        c.awaitInput();
        c.awaitInput();
        assertEquals(1, in.reads, "a second wait with input buffered reads nothing");
        ByteBuffer small = ByteBuffer.allocate(100);
        assertEquals(100, c.read(small));
        ByteBuffer rest = ByteBuffer.allocate(400);
        assertEquals(200, c.read(rest));
        assertEquals((byte) 100, rest.get(0));
        assertEquals(1, in.reads);
        c.awaitInput();
        assertEquals(-1, c.read(ByteBuffer.allocate(1)));
        assertEquals(-1, c.peek());
    }
}
