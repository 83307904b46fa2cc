package io.pgproxy.client;

import java.io.IOException;

/**
 * No backend could be leased for a run, and the client was answered as PostgreSQL answers a
 * failed request: an error for each request of the run, and a ReadyForQuery for each that was
 * complete. The relay drops the run's bytes; where the run ended inside an extended-protocol
 * request it drops what follows up to the Sync too, which gets the last ReadyForQuery.
 */
final class RunRefused extends IOException {
    private final boolean discardUntilSync;

    RunRefused(String message, boolean discardUntilSync) {
        super(message);
        this.discardUntilSync = discardUntilSync;
    }

    boolean discardUntilSync() {
        return discardUntilSync;
    }
}
