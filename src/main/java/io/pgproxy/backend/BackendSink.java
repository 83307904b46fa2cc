package io.pgproxy.backend;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Where a leased backend's traffic goes: the client that holds the lease. */
public interface BackendSink {
    /** Relays a run of whole or partial messages; {@code atBoundary} is true when the run ends between messages. */
    void forward(ByteBuffer run, boolean atBoundary) throws IOException;

    /** The backend connection ended while leased; {@code fatal} is its last FATAL error, or null. */
    void backendLost(BackendConnection backend, io.pgproxy.protocol.message.ErrorResponse fatal);
}
