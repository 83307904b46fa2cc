package io.pgproxy.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Walks the message headers in a run of relayed bytes without copying them. Most messages
 * stream through: only their header is looked at and their body, however large, is passed on
 * in whatever chunks the reads deliver. A subclass asks to see a message whole (for the few the
 * proxy acts on) or to stop before one.
 *
 * <p>State carries across calls, so a header or a wanted message split across reads is picked
 * up again when the caller has read more.
 */
public abstract class FrameScanner {
    /** Relay the message, body unseen. */
    protected static final int PASS = 0;
    /** Relay the message, but first hand its whole body to {@link #onMessage}. */
    protected static final int INSPECT = 1;
    /** Do not relay this message or anything after it; the scan ends before its header. */
    protected static final int STOP = 2;
    /**
     * Not in this buffer: the scan ends before the header, and the caller scans the message
     * again from a larger buffer. {@link #onHeader} must have changed nothing when it says so.
     */
    protected static final int DEFER = 3;
    /**
     * The caller handles this message itself: the scan ends before its header, as with
     * {@link #DEFER}, and {@link #cutRequested()} says so. The caller then consumes the message
     * (or its start, then {@link #passBody}) and scans on.
     */
    protected static final int CUT = 4;
    private static final int NONE = -1;

    private long bodyRemaining;
    private boolean stopped;
    private boolean cut;
    private int capacity;
    /**
     * The decision on a header whose inspected body has not all arrived: kept so the header is
     * decided (and counted) once, not again when the scan resumes at it.
     */
    private int held = NONE;
    private ByteBuffer scanned;
    private int headerAt;

    /**
     * Decides what to do with the message whose header was just read. Throws to reject it
     * (unknown tag, bad length); nothing of it has been relayed by then.
     */
    protected abstract int onHeader(byte tag, int length) throws IOException;

    /** A message asked for with {@link #INSPECT}; the body lies in {@code [bodyStart, bodyStart + bodyLength)}. */
    protected abstract void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) throws IOException;

    /**
     * Scans {@code buffer[position, limit)} and returns the index up to which bytes may be relayed.
     * Bytes after it are an incomplete header or an incomplete inspected message, to be kept
     * and scanned again once more bytes arrive, or (if {@link #stopped()}) the stopping message.
     */
    public final int scan(ByteBuffer buffer) throws IOException {
        int pos = buffer.position();
        int limit = buffer.limit();
        capacity = buffer.capacity();
        cut = false;
        scanned = buffer;
        while (pos < limit) {
            if (bodyRemaining > 0) {
                int skip = (int) Math.min(bodyRemaining, limit - pos);
                pos += skip;
                bodyRemaining -= skip;
                continue;
            }
            if (limit - pos < 5) {
                break;
            }
            byte tag = buffer.get(pos);
            int length = buffer.getInt(pos + 1);
            if (length < 4) {
                throw new ProtocolException("invalid message length " + Integer.toUnsignedString(length)
                        + " for message type '" + MessageReader.printable(tag) + "'");
            }
            int action = held;
            held = NONE;
            if (action == NONE) {
                headerAt = pos;
                action = onHeader(tag, length);
            }
            if (action == DEFER) {
                break;
            }
            if (action == CUT) {
                cut = true;
                break;
            }
            if (action == STOP) {
                stopped = true;
                return pos;
            }
            if (action == INSPECT) {
                if (1L + length > buffer.capacity()) {
                    throw new ProtocolException("message type '" + MessageReader.printable(tag)
                            + "' of " + length + " bytes is too large to inspect");
                }
                if (limit - pos < 1 + length) {
                    held = INSPECT;
                    break;
                }
                onMessage(tag, buffer, pos + 5, length - 4);
            }
            pos += 5;
            bodyRemaining = length - 4;
        }
        return pos;
    }

    /**
     * Bytes after the current header already in the buffer, for {@link #onHeader} to peek at
     * with {@link #peek}; they may run past the message's own body.
     */
    protected final int peekable() {
        return scanned.limit() - headerAt - 5;
    }

    /** Byte {@code i} of the current message's body; {@code i < peekable()}. */
    protected final byte peek(int i) {
        return scanned.get(headerAt + 5 + i);
    }

    /** True when the last scan ended at a message its caller handles itself ({@link #CUT}). */
    public final boolean cutRequested() {
        return cut;
    }

    /**
     * After a {@link #CUT}, the caller consumed the start of the message and leaves the
     * remaining {@code n} body bytes to be relayed as they arrive.
     */
    public final void passBody(long n) {
        bodyRemaining = n;
    }

    /** The capacity of the buffer being scanned, for {@link #DEFER} decisions. */
    protected final int capacity() {
        return capacity;
    }

    /** True between messages: nothing of a started message is still to come. */
    public final boolean atBoundary() {
        return bodyRemaining == 0;
    }

    public final boolean stopped() {
        return stopped;
    }
}
