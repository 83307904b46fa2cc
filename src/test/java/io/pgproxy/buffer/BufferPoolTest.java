package io.pgproxy.buffer;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BufferPoolTest {
    @Test
    void reusesReleasedBuffersAndCountsLeases() {
        BufferPool pool = new BufferPool(1024, 2);
        ByteBuffer a = pool.acquire();
        assertTrue(a.isDirect());
        assertEquals(1, pool.leased());
        a.put((byte) 1);
        pool.release(a);
        assertEquals(0, pool.leased());
        ByteBuffer b = pool.acquire();
        assertSame(a, b);
        assertEquals(0, b.position());
    }

    @Test
    void keepsNoMoreThanTheBound() {
        BufferPool pool = new BufferPool(1024, 1);
        ByteBuffer a = pool.acquire();
        ByteBuffer b = pool.acquire();
        pool.release(a);
        pool.release(b);
        assertEquals(1, pool.pooled());
        assertEquals(2, pool.allocated());
    }
}
