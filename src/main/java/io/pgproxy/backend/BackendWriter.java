package io.pgproxy.backend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The write side of one backend connection: whole runs written under one lock, so the lease
 * holder's requests and the reader's parameter repair never interleave on the socket, and a
 * hidden batch queued ahead leaves in the same gathering write as the next run.
 */
final class BackendWriter {
    private final ReentrantLock lock = new ReentrantLock();
    /** A hidden batch that leaves with the next write, ahead of the lease holder's run; set and taken on its thread. */
    private volatile ByteBuffer ahead;

    /** Queues {@code batch} to go out first in the next write. */
    void ahead(ByteBuffer batch) {
        ahead = batch;
    }

    void send(BackendSocket channel, ByteBuffer bytes) throws IOException {
        ByteBuffer first = ahead;
        if (first != null) {
            // A new pair each time, not a reused one: the backend may answer, settle and serve
            // the next lease holder while this thread is still returning from the write.
            ahead = null;
            send(channel, new ByteBuffer[] {first, bytes}, 2);
            return;
        }
        lock.lock();
        try {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Writes {@code parts[0, n)}, after the batch ahead if one is queued, with gathering writes. */
    void send(BackendSocket channel, ByteBuffer[] parts, int n) throws IOException {
        ByteBuffer batch = ahead;
        if (batch != null) {
            ahead = null;
            ByteBuffer[] all = new ByteBuffer[n + 1];
            all[0] = batch;
            System.arraycopy(parts, 0, all, 1, n);
            parts = all;
            n++;
        }
        lock.lock();
        try {
            int first = 0;
            while (first < n) {
                channel.write(parts, first, n - first);
                while (first < n && !parts[first].hasRemaining()) {
                    first++;
                }
            }
        } finally {
            lock.unlock();
        }
    }
}
