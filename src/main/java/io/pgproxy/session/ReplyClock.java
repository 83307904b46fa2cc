package io.pgproxy.session;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Orders reply-queue entries and the statement bookkeeping done between them, across all the
 * backends of one running server: a DEALLOCATE ALL forgets exactly what was defined before it
 * in the stream. One per server, so servers in one JVM never share it.
 */
public final class ReplyClock {
    private final AtomicLong clock = new AtomicLong();

    /** A stamp later than every one given so far. */
    public long next() {
        return clock.incrementAndGet();
    }
}
