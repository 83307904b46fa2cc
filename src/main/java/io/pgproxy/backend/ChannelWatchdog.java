package io.pgproxy.backend;

import java.io.IOException;
import java.nio.channels.Channel;
import java.time.Duration;

/**
 * Bounds a conversation on a standalone backend connection (the auth query, a health check): a
 * backend that logs in and then says nothing must not hold its caller, so the channel is closed
 * when the time is up, which ends the blocked read with a ClosedChannelException.
 */
public final class ChannelWatchdog implements AutoCloseable {
    private final Thread thread;

    private ChannelWatchdog(Thread thread) {
        this.thread = thread;
    }

    /** Closes {@code channel} after {@code timeout} unless closed first. */
    public static ChannelWatchdog start(Channel channel, Duration timeout) {
        return new ChannelWatchdog(Thread.ofVirtual().name("pgproxy-watchdog").start(() -> {
            try {
                Thread.sleep(timeout);
                channel.close();
            } catch (InterruptedException | IOException done) {
                // Finished in time, or already closed.
            }
        }));
    }

    /** The conversation ended in time. */
    @Override
    public void close() {
        thread.interrupt();
    }
}
