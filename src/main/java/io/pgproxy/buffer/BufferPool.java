package io.pgproxy.buffer;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * A bounded free list of direct buffers of one size. Direct, because channel I/O on a heap
 * buffer copies through a temporary direct buffer on every call. Bounded, so a burst does not
 * pin memory forever: buffers beyond {@code maxPooled} are left to the garbage collector.
 */
public final class BufferPool {
    private final int bufferSize;
    private final int maxPooled;
    private final ConcurrentLinkedDeque<ByteBuffer> free = new ConcurrentLinkedDeque<>();
    private final AtomicInteger pooled = new AtomicInteger();
    private final AtomicInteger leased = new AtomicInteger();
    private final LongAdder allocated = new LongAdder();

    public BufferPool(int bufferSize, int maxPooled) {
        if (bufferSize < 64 || maxPooled < 0) {
            throw new IllegalArgumentException("bufferSize >= 64 and maxPooled >= 0 required");
        }
        this.bufferSize = bufferSize;
        this.maxPooled = maxPooled;
    }

    /** A cleared buffer of {@link #bufferSize()} bytes; give it back with {@link #release}. */
    public ByteBuffer acquire() {
        leased.incrementAndGet();
        ByteBuffer b = free.pollFirst();
        if (b != null) {
            pooled.decrementAndGet();
            return b.clear();
        }
        allocated.increment();
        return ByteBuffer.allocateDirect(bufferSize);
    }

    public void release(ByteBuffer buffer) {
        if (buffer == null) {
            return;
        }
        leased.decrementAndGet();
        if (buffer.capacity() == bufferSize && pooled.get() < maxPooled) {
            pooled.incrementAndGet();
            free.offerFirst(buffer);
        }
    }

    public int bufferSize() {
        return bufferSize;
    }

    /** Buffers handed out and not yet returned: should fall to zero when traffic stops. */
    public int leased() {
        return leased.get();
    }

    public int pooled() {
        return pooled.get();
    }

    public long allocated() {
        return allocated.sum();
    }
}
