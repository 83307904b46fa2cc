package io.pgproxy.backend;

import io.pgproxy.buffer.BufferPool;
import io.pgproxy.protocol.FrameScanner;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.ParameterStatus;
import io.pgproxy.protocol.message.TransactionStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

/**
 * A backend connection's reader thread, for the connection's whole life: scans every run the
 * backend sends, relays it to the attached client, keeps the connection's counters, runs a
 * client's parameter repair before its last ReadyForQuery, and tells the lease when the
 * backend has answered everything it was asked.
 */
final class BackendReader extends FrameScanner implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(BackendReader.class);
    /** The reader's cut for a repair batch; distinct from the reply queue's actions. */
    private static final int REPAIR = -2;
    /** The reader's cut for a FATAL it keeps from the client ({@link #skipLength} bytes after the tag). */
    private static final int SKIP = -3;

    private final BackendConnection c;
    private final BufferPool buffers;
    private int readyForQuerySeen;
    private int capacity;
    /** Replies are matched against the queue in the run being scanned. */
    private boolean matching;
    /** The client this read's run is relayed to (the connection's sink when the read began). */
    private BackendSink runSink;
    private int cutAction;
    /** The batch to run before the ReadyForQuery the scan stopped at ({@link #REPAIR}). */
    private ByteBuffer repairBatch;
    /** The ErrorResponse among a hidden batch's replies, until its ReadyForQuery. */
    private ErrorResponse aheadError;
    private int skipLength;

    BackendReader(BackendConnection c, BufferPool buffers) {
        this.c = c;
        this.buffers = buffers;
    }

    @Override
    protected int onHeader(byte tag, int length) throws ProtocolException {
        if (tag == 'E' && runSink != null && runSink.survivesLoss() && length + 1 <= capacity) {
            // A FATAL ends the server's session, not necessarily the client's: a server shutting
            // down or crashing says it to every session, idle or running, as does
            // pg_terminate_backend. A client whose session can move to another backend is not
            // told; the loss that follows is handled as one without a FATAL (08006, a replay).
            if (peekable() < length - 4) {
                return DEFER;
            }
            byte[] body = new byte[length - 4];
            for (int i = 0; i < body.length; i++) {
                body[i] = peek(i);
            }
            ErrorResponse e = ErrorResponse.decode(ByteBuffer.wrap(body));
            if (e.isFatal()) {
                log.info("{} FATAL kept from its client, whose session goes on: {} {}", c.id, e.sqlState(), e.message());
                skipLength = length;
                cutAction = SKIP;
                return CUT;
            }
        }
        // Before the reply queue sees this ReadyForQuery: it is scanned again after the repair.
        if (tag == 'Z' && repairBatch == null && c.outstanding.get() == 1) {
            BackendSink s = runSink;
            if (s != null && s.repairPending()) {
                if (peekable() < 1) {
                    return DEFER;
                }
                ByteBuffer batch = s.repairBeforeReady(TransactionStatus.of(peek(0)));
                if (batch != null) {
                    repairBatch = batch;
                    cutAction = REPAIR;
                    return CUT;
                }
            }
        }
        if (matching) {
            int d = c.replies.onReply(tag);
            if (d != ReplyQueue.FORWARD) {
                if (d == ReplyQueue.DROP && length != 4) {
                    throw new ProtocolException("unexpected length " + length + " of a completion message from backend");
                }
                cutAction = d;
                return CUT;
            }
        }
        return switch (tag) {
            case 'Z', 'S' -> INSPECT;
            // Only short tags matter (LISTEN, SET, ...); long ones pass uninspected.
            case 'C' -> length <= 64 && c.watchCommands ? INSPECT : PASS;
            // An error too large to inspect still reaches the client; only its severity is unseen.
            case 'E' -> length + 1 <= capacity ? INSPECT : PASS;
            default -> PASS;
        };
    }

    @Override
    protected void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) throws ProtocolException {
        if (tag == 'Z') {
            // The hot path: once per request, so no allocation here.
            if (bodyLength != 1) {
                throw new ProtocolException("invalid ReadyForQuery length from backend");
            }
            c.status = TransactionStatus.of(buffer.get(bodyStart));
            // Counted before the run is forwarded: a client that leaves as soon as it has
            // this reply must find the backend settled, not closed as if a reply were owed.
            int left = c.outstanding.decrementAndGet();
            if (left < 0) {
                // More c.replies than requests: the proxy lost track, so nobody else may use this backend.
                c.desynchronised = true;
                c.outstanding.set(0);
            }
            readyForQuerySeen++;
            BackendSink s = runSink;
            if (s != null) {
                s.readyForQuery(c.status, left <= 0);
            }
            return;
        }
        if (tag == 'C') {
            // Once per statement in transaction mode: decoded in place.
            BackendSink s = runSink;
            if (s != null) {
                s.commandComplete(Wire.cstring(buffer, bodyStart, bodyStart + bodyLength));
            }
            return;
        }
        ByteBuffer body = buffer.duplicate().position(bodyStart).limit(bodyStart + bodyLength).slice();
        switch (tag) {
            case 'S' -> {
                ParameterStatus p = ParameterStatus.decode(body);
                c.parameters.put(p.name(), p.value());
                BackendSink s = runSink;
                if (s != null) {
                    s.parameterStatus(p.name(), p.value());
                }
            }
            case 'E' -> {
                ErrorResponse e = ErrorResponse.decode(body);
                if (e.isFatal()) {
                    c.fatal = e;
                }
                BackendSink s = runSink;
                if (s != null) {
                    s.errorResponse();
                } else if (c.internalError == null) {
                    c.internalError = e;
                }
            }
            default -> {
            }
        }
    }

    /** Scans from the buffer's position, relays what may go, returns where the scan stopped. */
    private int scanAndForward(ByteBuffer buffer) throws IOException {
        int start = buffer.position();
        int end = scan(buffer);
        BackendSink s = runSink;
        if (s != null && end > start) {
            int limit = buffer.limit();
            buffer.limit(end);
            try {
                // Between messages whenever no message is half scanned, even when the scan stopped
                // before the buffer's end (a cut, a header not all read yet): the proxy's own
                // answers may then follow, and a loss answered now must reach the client.
                s.forward(c, buffer, atBoundary());
            } catch (IOException e) {
                // The client is gone; its thread notices on its own. Keep consuming
                // so the counters stay true and the connection may still be reused.
                log.debug("{} client write failed: {}", c.id, e.getMessage());
                if (c.sink == s) {
                    c.sink = null;
                    runSink = null;
                }
            }
            buffer.limit(limit);
        }
        return end;
    }

    /**
     * The run of a client whose requests the proxy edits: c.replies to messages the proxy
     * added are cut out, and its own c.replies put in where they fall due.
     */
    private void relayMatched(ByteBuffer buffer) throws IOException {
        c.replies.lock();
        try {
            while (true) {
                cutAction = ReplyQueue.FORWARD;
                int end = scanAndForward(buffer);
                buffer.position(end);
                if (cutAction == ReplyQueue.DROP) {
                    buffer.position(end + 5);
                } else if (cutAction == ReplyQueue.EMIT) {
                    emitDue();
                } else if (cutAction == REPAIR) {
                    repair();
                } else if (cutAction == SKIP) {
                    buffer.position(end + 1 + skipLength);
                } else {
                    break;
                }
            }
            emitDue();
        } finally {
            c.replies.unlock();
        }
    }

    /**
     * Runs the client's repair batch while its last ReadyForQuery is held back, so whatever
     * the batch makes the backend report reaches the client before that ReadyForQuery, as
     * if the statement had done it. Reads exactly the batch's c.replies, no further: what
     * follows belongs to the main scan. Nothing else is owed (checked in onHeader), so only
     * asynchronous messages can come between.
     */
    private void repair() throws IOException {
        ByteBuffer batch = repairBatch;
        repairBatch = null;
        c.send(batch);
        Map<String, String> reported = new java.util.LinkedHashMap<>();
        ByteBuffer header = ByteBuffer.allocate(5);
        while (true) {
            header.clear();
            readFully(header);
            byte tag = header.get(0);
            int length = header.getInt(1);
            if (length < 4 || length > capacity) {
                throw new ProtocolException("invalid message length " + length + " from backend during a parameter repair");
            }
            ByteBuffer body = ByteBuffer.allocate(length - 4);
            readFully(body);
            body.flip();
            switch (tag) {
                case 'S' -> {
                    ParameterStatus p = ParameterStatus.decode(body);
                    c.parameters.put(p.name(), p.value());
                    reported.put(p.name(), p.value());
                }
                case 'E' -> log.info("{} parameter repair failed: {}", c.id, ErrorResponse.decode(body).message());
                case 'Z' -> {
                    BackendSink s = runSink;
                    if (s != null) {
                        s.repaired(reported);
                    }
                    return;
                }
                default -> {
                    // RowDescription, DataRow, CommandComplete of the batch;
                    // a notice or notification in between is dropped with them.
                }
            }
        }
    }

    /**
     * Consumes the replies to hidden batches sent ahead of a client's run, whole messages from the
     * buffer's position, and tells the sink at each batch's ReadyForQuery. True when no such reply
     * is owed any more; false when more must be read first. Nothing of it reaches the client: a
     * value the batch made the backend report is the sink's to pass on, as a correction.
     */
    private boolean consumeAhead(ByteBuffer buffer) throws IOException {
        while (c.hiddenOwed.get() > 0) {
            int at = buffer.position();
            if (buffer.remaining() < 5) {
                return false;
            }
            byte tag = buffer.get(at);
            int length = buffer.getInt(at + 1);
            if (length < 4 || length + 1 > capacity) {
                throw new ProtocolException("invalid message length " + length + " from backend in a hidden batch's replies");
            }
            if (buffer.remaining() < length + 1) {
                return false;
            }
            buffer.position(at + 1 + length);
            switch (tag) {
                case 'S' -> {
                    ParameterStatus p = ParameterStatus.decode(buffer.slice(at + 5, length - 4));
                    c.parameters.put(p.name(), p.value());
                }
                case 'E' -> {
                    ErrorResponse e = ErrorResponse.decode(buffer.slice(at + 5, length - 4));
                    if (e.isFatal()) {
                        c.fatal = e;
                    }
                    if (aheadError == null) {
                        aheadError = e;
                    }
                }
                case 'Z' -> {
                    if (length != 4 + 1) {
                        throw new ProtocolException("invalid ReadyForQuery length from backend");
                    }
                    c.status = TransactionStatus.of(buffer.get(at + 5));
                    c.outstanding.decrementAndGet();
                    c.hiddenOwed.decrementAndGet();
                    readyForQuerySeen++;
                    ErrorResponse e = aheadError;
                    aheadError = null;
                    BackendSink s = c.sink;
                    if (s != null) {
                        s.aheadAnswered(e);
                    } else if (e != null) {
                        log.info("{} hidden batch failed: {}", c.id, e.message());
                    }
                }
                default -> {
                    // RowDescription, DataRow, CommandComplete of the batch; a
                    // notice or notification in between is dropped with them.
                }
            }
        }
        return true;
    }

    private void readFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (c.channel.read(b) < 0) {
                throw new java.io.EOFException("backend closed the connection during a parameter repair");
            }
        }
    }

    private void emitDue() {
        byte[] reply;
        while ((reply = c.replies.takeSynthetic()) != null) {
            BackendSink s = runSink;
            if (s != null) {
                try {
                    s.forward(c, ByteBuffer.wrap(reply), true);
                } catch (IOException e) {
                    log.debug("{} client write failed: {}", c.id, e.getMessage());
                    if (c.sink == s) {
                        c.sink = null;
                        runSink = null;
                    }
                }
            }
        }
    }

    @Override
    public void run() {
        ByteBuffer buffer = buffers.acquire();
        capacity = buffer.capacity();
        try {
            while (true) {
                if (c.channel.read(buffer) < 0) {
                    break;
                }
                buffer.flip();
                if (c.hiddenOwed.get() > 0 && !consumeAhead(buffer)) {
                    buffer.compact();
                    continue;
                }
                // Whom this read's replies go to, decided once: a client attaching while the
                // reader is still on the hidden sync query's replies must not be sent them.
                runSink = c.sink;
                matching = c.tracking;
                if (matching) {
                    relayMatched(buffer);
                    if (c.replies.lost() && !c.desynchronised) {
                        log.warn("{} c.replies out of step with the requests sent; not reused", c.id);
                        c.desynchronised = true;
                    }
                } else {
                    while (true) {
                        cutAction = ReplyQueue.FORWARD;
                        int end = scanAndForward(buffer);
                        buffer.position(end);
                        if (cutAction == SKIP) {
                            buffer.position(end + 1 + skipLength);
                        } else if (cutAction == REPAIR) {
                            repair();
                        } else {
                            break;
                        }
                    }
                }
                buffer.compact();
                if (readyForQuerySeen > 0) {
                    readyForQuerySeen = 0;
                    if (c.outstanding.get() <= 0) {
                        c.signalSettled();
                        BackendLease current = c.lease;
                        if (current != null) {
                            current.settled();
                        }
                    }
                }
            }
        } catch (IOException e) {
            if (!c.isClosed()) {
                log.info("{} backend connection failed: {}", c.id, e.getMessage());
            }
        } finally {
            buffers.release(buffer);
            boolean wasClosedByUs = !c.moveTo(BackendState.CLOSED);
            BackendConnection.closeQuietly(c.channel);
            c.signalSettled();
            if (!wasClosedByUs) {
                log.debug("{} backend closed the connection{}", c.id,
                        c.fatal != null ? ": " + c.fatal.sqlState() + " " + c.fatal.message() : "");
                c.serverWentAway();
                c.tellLossIfGone();
            }
        }
    }
}
