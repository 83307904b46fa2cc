package io.pgproxy.client;

import io.pgproxy.backend.BackendConnection;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.function.BooleanSupplier;

/**
 * The client → backend direction of one session, on the client's own thread: reads requests,
 * has the scanner check each header and say what a run owes, and sends each run to the backend
 * the client holds (claimed, and leased if need be, just before it is sent). Idle between
 * requests, it parks on a read into a small pooled buffer and holds nothing else.
 */
final class RequestRelay {
    /** What the relay needs of the backend side of the session. */
    interface Backends {
        /** Whether the client holds a lease now (read only by the client's thread, which alone leases). */
        boolean holdsLease();

        /**
         * The backend for the run the scanner just cleared, with what the run owes recorded on it.
         * The run's bytes are {@code [start, end)} of {@code sent}, or {@code sent} is null when the
         * proxy edits them (kept for transaction replay).
         */
        BackendConnection claim(RequestScanner scanner, ByteBuffer sent, int start, int end) throws IOException;

        /** The Sync that ends what a refused run left of an extended-protocol request arrived: answers it. */
        void refusedRequestSynced() throws IOException;
    }

    private final ClientContext context;
    private final ReadableByteChannel in;
    private final RequestScanner scanner;
    /** Renames named prepared statements; null in session mode or with the cache off. */
    private final StatementEditor editor;
    private final Outbox outbox = new Outbox();
    private final Backends backends;
    private final BooleanSupplier closing;
    private volatile boolean readingHeader;
    private volatile long parkedSinceNanos = System.nanoTime();

    RequestRelay(ClientContext context, ReadableByteChannel in, RequestScanner scanner, StatementEditor editor,
                 Backends backends, BooleanSupplier closing) {
        this.context = context;
        this.in = in;
        this.scanner = scanner;
        this.editor = editor;
        this.backends = backends;
        this.closing = closing;
    }

    /** Parked on a read between requests. */
    boolean readingHeader() {
        return readingHeader;
    }

    /** When the relay last started waiting for a request (System.nanoTime). */
    long parkedSinceNanos() {
        return parkedSinceNanos;
    }

    /** Client → backend, frame by frame, until Terminate or the client goes away. */
    void run() throws IOException {
        ByteBuffer request = context.requestBuffers().acquire();
        try {
            while (true) {
                request.clear();
                parkedSinceNanos = System.nanoTime();
                readingHeader = true;
                try {
                    if (!readAtLeastHeader(request)) {
                        return;
                    }
                } finally {
                    readingHeader = false;
                }
                if (closing.getAsBoolean()) {
                    return;
                }
                // The scan rejects a hostile header before anything is sent or leased.
                request.flip();
                scanAndSend(request);
                if (scanner.stopped()) {
                    return;
                }
                if (scanner.atBoundary() && !request.hasRemaining()) {
                    // The common case: whole requests, read and sent with one system call each.
                    continue;
                }
                // A larger message, or more than fits: go on with a relay buffer.
                ByteBuffer buffer = context.buffers().acquire();
                try {
                    buffer.put(request);
                    if (!relayRun(buffer)) {
                        return;
                    }
                } finally {
                    context.buffers().release(buffer);
                }
            }
        } finally {
            context.requestBuffers().release(request);
        }
    }

    /**
     * The backend died as the client's run was written to it. The run was recorded as owed on
     * the lease before the write, so the loss answers it (08006) like any request in flight, and
     * the session goes on where it can: the socket is closed so that the backend's reader
     * reports the loss now. Only between messages: a message whose start went to the dead
     * backend cannot go on to another, so mid-message the session ends.
     */
    private void backendWriteFailed(BackendConnection b, IOException e) throws IOException {
        if (!scanner.atBoundary()) {
            throw e;
        }
        b.sever();
    }

    /** Blocks until a message header (and whatever else has arrived) is in {@code buffer}. */
    private boolean readAtLeastHeader(ByteBuffer buffer) throws IOException {
        while (buffer.position() < 5) {
            if (in.read(buffer) < 0) {
                if (buffer.position() > 0) {
                    throw new EOFException("client closed the connection inside a message header");
                }
                return false;
            }
        }
        return true;
    }

    /**
     * Relays messages from {@code buffer} (already holding a header) until the client's bytes end
     * exactly at a message boundary. Returns false when the client sent Terminate.
     */
    private boolean relayRun(ByteBuffer buffer) throws IOException {
        while (true) {
            buffer.flip();
            scanAndSend(buffer);
            if (scanner.stopped()) {
                return false;
            }
            buffer.compact();
            if (scanner.atBoundary() && buffer.position() == 0) {
                return true;
            }
            if (in.read(buffer) < 0) {
                throw new EOFException("client closed the connection inside a message");
            }
        }
    }

    /**
     * Sends what the scanner clears from {@code buffer}'s position on, and leaves the position
     * where the scan stopped. Messages naming prepared statements go through the editor, and
     * the edited run leaves in one gathering write.
     */
    private void scanAndSend(ByteBuffer buffer) throws IOException {
        // Only this thread leases, so a client without a backend stays without one until it does.
        scanner.quiet = !backends.holdsLease();
        int start = buffer.position();
        int end = scanner.scan(buffer);
        if (!scanner.cutRequested() && !scanner.discarding()) {
            if (end > start) {
                BackendConnection b;
                try {
                    b = backends.claim(scanner, buffer, start, end);
                } catch (RunRefused r) {
                    refused(r, buffer, end);
                    return;
                }
                int limit = buffer.limit();
                buffer.limit(end);
                try {
                    b.send(buffer);
                } catch (IOException e) {
                    backendWriteFailed(b, e);
                } finally {
                    buffer.limit(limit);
                }
            }
            buffer.position(end);
            return;
        }
        BackendConnection b = null;
        try {
            while (true) {
                try {
                    if (end > start && !scanner.discarding()) {
                        b = backends.claim(scanner, null, 0, 0);
                        outbox.add(buffer.slice(start, end - start));
                    }
                    buffer.position(end);
                    if (!scanner.cutRequested()) {
                        break;
                    }
                    if (scanner.discarding()) {
                        // The Sync after a refused run's dropped messages: its ReadyForQuery.
                        buffer.position(end + 5);
                        scanner.discardedSync();
                        backends.refusedRequestSynced();
                    } else {
                        BackendConnection[] leased = {b};
                        editor.edit(scanner, buffer, in, () -> {
                            // Marked before the claim, so the backend cannot be handed back meanwhile.
                            scanner.noteEdited();
                            scanner.quiet = false;
                            return leased[0] = backends.claim(scanner, null, 0, 0);
                        }, outbox);
                        b = leased[0];
                    }
                } catch (RunRefused r) {
                    // Refused at a lease, so nothing was queued for a backend before it. Refused
                    // in the editor, the run was pending (noteEdited), so the request it was
                    // editing is dropped whole: a Bind not consumed yet is scanned again, and dropped.
                    refused(r, buffer, end);
                    outbox.clear();
                    b = null;
                }
                start = buffer.position();
                end = scanner.scan(buffer);
            }
            if (b != null) {
                try {
                    outbox.flushTo(b);
                } catch (IOException e) {
                    backendWriteFailed(b, e);
                }
            }
        } finally {
            outbox.clear();
        }
    }

    /** The run up to {@code end} was answered by the proxy (see {@link RunRefused}): its bytes are dropped. */
    private void refused(RunRefused r, ByteBuffer buffer, int end) {
        if (buffer.position() < end) {
            buffer.position(end);
        }
        if (r.discardUntilSync()) {
            scanner.discardUntilSync();
        }
    }
}
