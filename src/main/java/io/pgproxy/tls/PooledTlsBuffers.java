package io.pgproxy.tls;

import io.pgproxy.buffer.BufferPool;
import tlschannel.BufferAllocator;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One connection's view of the shared pool its TLS channel decrypts and encrypts through.
 * tls-channel frees a connection's buffers whenever they are empty, and by default allocates
 * them again for every record: measured, that was 1.7 GB of garbage in 15 s of pgbench -S at
 * 10 clients. Every buffer handed out is one TLS record long, so the channel never grows one.
 * The count of buffers the connection holds tells whether tls-channel has input buffered.
 */
final class PooledTlsBuffers implements BufferAllocator {
    private final BufferPool pool;
    private final AtomicInteger held = new AtomicInteger();

    PooledTlsBuffers(BufferPool pool) {
        this.pool = pool;
    }

    @Override
    public ByteBuffer allocate(int size) {
        held.incrementAndGet();
        return size <= pool.bufferSize() ? pool.acquire() : ByteBuffer.allocateDirect(size);
    }

    @Override
    public void free(ByteBuffer buffer) {
        held.decrementAndGet();
        if (buffer.capacity() == pool.bufferSize()) {
            pool.release(buffer);
        }
    }

    /** Buffers the connection holds now: none means nothing is buffered, read or written. */
    int held() {
        return held.get();
    }
}
