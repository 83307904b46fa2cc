package io.pgproxy.backend;

import java.nio.channels.Channel;
import java.time.Duration;

/**
 * Closes a backend socket still in use when its time is up, so a backend that accepts and then
 * says nothing (or stalls a TLS handshake) cannot hold a login or a cancel, nor the client
 * thread behind it, forever. Closing the socket is what unblocks a blocking read.
 */
final class ConnectDeadline implements AutoCloseable {
    private final Thread watchdog;

    private ConnectDeadline(Thread watchdog) {
        this.watchdog = watchdog;
    }

    static ConnectDeadline start(Channel socket, Duration timeout) {
        return new ConnectDeadline(Thread.ofVirtual().name("pgproxy-connect-watchdog").start(() -> {
            try {
                Thread.sleep(timeout);
                BackendConnection.closeQuietly(socket);
            } catch (InterruptedException done) {
                // Finished in time.
            }
        }));
    }

    /** The work finished in time: the socket stays open. */
    @Override
    public void close() {
        watchdog.interrupt();
    }
}
