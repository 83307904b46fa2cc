package io.pgproxy.client;

import io.pgproxy.protocol.FrameScanner;
import io.pgproxy.protocol.FrontendTag;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.session.PinDetector;
import io.pgproxy.session.PinReason;
import io.pgproxy.session.SetStatement;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Checks each client message header; counts the ReadyForQuery each request is owed and
 * whether the run leaves an extended-protocol request open. In transaction mode it also
 * takes a cheap look at statement texts for state no command tag reveals.
 */
final class RequestScanner extends FrameScanner {
    /** Statements longer than this are relayed without a look (they fit any relay buffer). */
    private static final int MAX_INSPECTED = 8192;

    private final int maxMessageSize;
    private final boolean peek;
    int owed;
    boolean sawRequest;
    boolean pendingAfter;
    PinReason pin;
    /** Plain SETs seen in this run, in order; handed to the session with the run. */
    final java.util.ArrayDeque<SetStatement.Assignment> sets = new java.util.ArrayDeque<>();

    RequestScanner(int maxMessageSize, boolean peek) {
        this.maxMessageSize = maxMessageSize;
        this.peek = peek;
    }

    /** The tag of a valid header; a protocol violation otherwise. */
    private FrontendTag check(byte tag, int length) throws ProtocolException {
        FrontendTag t = FrontendTag.of(tag);
        if (t == null) {
            throw new ProtocolException("invalid frontend message type " + (tag & 0xFF));
        }
        if (length < 4 || length > maxMessageSize) {
            throw new ProtocolException("invalid message length " + Integer.toUnsignedString(length)
                    + " (limit " + maxMessageSize + ")");
        }
        return t;
    }

    @Override
    protected int onHeader(byte tag, int length) throws ProtocolException {
        FrontendTag t = check(tag, length);
        boolean inspect = peek && (t == FrontendTag.QUERY || t == FrontendTag.PARSE) && length <= MAX_INSPECTED;
        if (inspect && 1L + length > capacity()) {
            // Decided before any counting: the message is scanned again from a relay buffer.
            return DEFER;
        }
        switch (t) {
            case TERMINATE -> {
                return STOP;
            }
            case QUERY, SYNC, FUNCTION_CALL -> {
                owed++;
                sawRequest = true;
                pendingAfter = false;
            }
            case PARSE, BIND, DESCRIBE, EXECUTE, CLOSE, FLUSH -> {
                sawRequest = true;
                pendingAfter = true;
            }
            default -> {
                // COPY data and password messages belong to a request already counted.
            }
        }
        return inspect ? INSPECT : PASS;
    }

    @Override
    protected void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) {
        int start = bodyStart;
        int end = bodyStart + bodyLength;
        if (tag == 'P') {
            // Skip the statement name to reach the query text.
            while (start < end && buffer.get(start) != 0) {
                start++;
            }
            start++;
        }
        int textEnd = start;
        while (textEnd < end && buffer.get(textEnd) != 0) {
            textEnd++;
        }
        if (textEnd == start) {
            return;
        }
        // One copy of the statement's start serves both looks.
        byte[] head = new byte[Math.min(textEnd - start, SetStatement.MAX_LENGTH)];
        buffer.get(start, head);
        String text = new String(head, StandardCharsets.UTF_8);
        PinReason r = PinDetector.peekStatement(text);
        if (r != null && pin == null) {
            pin = r;
        }
        SetStatement.Assignment set = textEnd - start <= SetStatement.MAX_LENGTH ? SetStatement.parse(text) : null;
        if (set != null) {
            sets.add(set);
        }
    }
}
