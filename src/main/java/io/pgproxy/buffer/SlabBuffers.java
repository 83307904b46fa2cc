package io.pgproxy.buffer;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Small direct buffers carved from large slabs: one per client for reading its next request.
 * A direct buffer of its own per client would cost a native allocation and a cleaner each; a
 * heap buffer would make every read copy through a temporary direct buffer. Slices of a slab
 * cost neither, and a typical request (header and body) fits in one, so it is read with one
 * system call and sent on without touching the large relay buffers.
 */
public final class SlabBuffers {
    private final int sliceSize;
    private final int slicesPerSlab;
    private final ConcurrentLinkedQueue<ByteBuffer> free = new ConcurrentLinkedQueue<>();
    private final AtomicInteger leased = new AtomicInteger();
    private ByteBuffer slab;

    public SlabBuffers(int sliceSize, int slicesPerSlab) {
        if (sliceSize < 8 || slicesPerSlab < 1) {
            throw new IllegalArgumentException("sliceSize >= 8 and slicesPerSlab >= 1 required");
        }
        this.sliceSize = sliceSize;
        this.slicesPerSlab = slicesPerSlab;
    }

    public ByteBuffer acquire() {
        leased.incrementAndGet();
        ByteBuffer b = free.poll();
        return b != null ? b.clear() : carve();
    }

    public void release(ByteBuffer b) {
        if (b != null) {
            leased.decrementAndGet();
            free.offer(b);
        }
    }

    public int sliceSize() {
        return sliceSize;
    }

    public int leased() {
        return leased.get();
    }

    private synchronized ByteBuffer carve() {
        if (slab == null || slab.remaining() < sliceSize) {
            slab = ByteBuffer.allocateDirect(sliceSize * slicesPerSlab);
        }
        ByteBuffer slice = slab.slice(slab.position(), sliceSize);
        slab.position(slab.position() + sliceSize);
        return slice;
    }
}
