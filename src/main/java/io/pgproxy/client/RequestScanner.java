package io.pgproxy.client;

import io.pgproxy.backend.ReplyQueue;
import io.pgproxy.backend.RequestRun;
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
    /**
     * Statements up to this size are inspected whole (they fit any relay buffer); longer ones
     * stream through, and only their first {@link #HEAD_BYTES} are looked at.
     */
    private static final int MAX_INSPECTED = 8192;
    /** Of a longer statement, the start looked at: a Parse's name and the text's start. */
    static final int HEAD_BYTES = 1024;

    /**
     * Most bytes of portal and statement names at the start of a Bind the proxy reads to rename
     * the statement; a Bind whose names are longer is refused (08P01).
     */
    static final int MAX_NAMES_LENGTH = 1024;

    private final int maxMessageSize;
    private final boolean peek;
    /** Named statements are edited: such messages are cut out for the editor, the rest recorded as replies owed. */
    private final boolean edit;
    /** Statement texts are looked at for transaction replay (see {@link StatementStart}). */
    private final boolean replayLook;
    /** Reply-queue entries of the messages scanned since the last hand-over, in order. */
    private byte[] kinds = new byte[16];
    /**
     * The client holds no backend and nothing is owed: a Sync can be answered by the proxy.
     * Set by the session before a scan; any message that will need a backend clears it.
     */
    boolean quiet;
    /**
     * What a refused run left of an extended-protocol request is being dropped, as PostgreSQL
     * skips to the Sync after an error: every message passes uncounted (the relay drops it), and
     * the Sync is cut out for the relay to answer.
     */
    private boolean discarding;
    private int kindCount;
    private int owed;
    private boolean sawRequest;
    private boolean pendingAfter;
    private PinReason pin;
    /** A statement in this run may deallocate prepared statements; handed to the session with the run. */
    private boolean mayDeallocate;
    /** A statement in this run may end its transaction with a commit; handed to the session with the run. */
    private boolean mayCommit;
    /** The run's first statement opens a transaction block; handed to the session with the run. */
    private boolean opensBlock;
    /** A statement of the run ends or controls a block, or is not seen whole, or several share a text. */
    private boolean unreplayable;
    /** Statements (Query and Execute messages) of the run, counted for replay only. */
    private int statements;
    /** A statement text of this run was looked at already: only the first may open the block. */
    private boolean sawText;
    /** The run's entry (index into kinds) of a simple Query or Execute that may deallocate, or -1. */
    private int deallocatingKind = -1;
    /**
     * A Parse whose text may deallocate was scanned: the next Execute runs it (drivers send
     * DEALLOCATE ALL through Parse, Bind, Execute), so that Execute is the deallocating entry.
     * Kept across runs, since the Execute may come in a later read.
     */
    private boolean deallocatingParse;
    // Both start at no slots: every idle client holds them, and few runs carry a SET or RESET.
    /** Statements starting with SET seen in this run, in order; handed to the session with the run. */
    private final java.util.ArrayDeque<SetStatement.Sent> sets = new java.util.ArrayDeque<>(0);
    /** RESETs of parameters seen in this run, in order; handed to the session with the run. */
    private final java.util.ArrayDeque<SetStatement.Reset> resets = new java.util.ArrayDeque<>(0);

    /**
     * Hands over what the messages scanned since the last hand-over owe, and starts afresh.
     * Called before those messages are sent.
     */
    RequestRun takeRun() {
        boolean plain = !mayDeallocate && !mayCommit && kindCount == 0 && pin == null && sets.isEmpty() && resets.isEmpty()
                && !opensBlock && !unreplayable && statements <= 1;
        RequestRun run;
        if (plain && owed == 0 && !sawRequest) {
            return RequestRun.NONE;
        } else if (plain && owed == 1 && sawRequest && !pendingAfter) {
            // The common run, one whole request: shared, so the relay path allocates nothing for it.
            run = RequestRun.ONE_REQUEST;
        } else {
            run = new RequestRun(owed, sawRequest, pendingAfter, mayDeallocate,
                    kindCount == 0 ? null : java.util.Arrays.copyOf(kinds, kindCount), deallocatingKind, pin,
                    sets.isEmpty() ? java.util.List.of() : java.util.List.copyOf(sets),
                    resets.isEmpty() ? java.util.List.of() : java.util.List.copyOf(resets), mayCommit, opensBlock,
                    unreplayable, statements);
        }
        owed = 0;
        sawRequest = false;
        mayDeallocate = false;
        mayCommit = false;
        opensBlock = false;
        unreplayable = false;
        statements = 0;
        sawText = false;
        kindCount = 0;
        deallocatingKind = -1;
        pin = null;
        sets.clear();
        resets.clear();
        return run;
    }

    /** Drops what follows up to the next Sync (see {@link #discarding}). */
    void discardUntilSync() {
        discarding = true;
    }

    boolean discarding() {
        return discarding;
    }

    /** The Sync that ends the discarding was consumed by the relay; scanning goes on as before. */
    void discardedSync() {
        discarding = false;
    }

    RequestScanner(int maxMessageSize, boolean peek, boolean edit) {
        this(maxMessageSize, peek, edit, false);
    }

    RequestScanner(int maxMessageSize, boolean peek, boolean edit, boolean replayLook) {
        this.maxMessageSize = maxMessageSize;
        this.peek = peek || replayLook;
        this.edit = edit;
        this.replayLook = replayLook;
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
        if (discarding) {
            return t == FrontendTag.TERMINATE ? STOP : t == FrontendTag.SYNC ? CUT : PASS;
        }
        if (edit) {
            if (t == FrontendTag.SYNC && quiet && length == 4) {
                return CUT;
            }
            int e = editDecision(t, length);
            if (e != PASS) {
                return e;
            }
            if (t != FrontendTag.TERMINATE) {
                quiet = false;
            }
        }
        boolean statement = peek && (t == FrontendTag.QUERY || t == FrontendTag.PARSE);
        boolean inspect = statement && length <= MAX_INSPECTED;
        if (inspect && 1L + length > capacity()) {
            // Decided before any counting: the message is scanned again from a relay buffer.
            return DEFER;
        }
        int head = statement && !inspect ? Math.min(HEAD_BYTES, length - 4) : 0;
        if (head > 0 && peekable() < head) {
            // A long statement can still create a temporary table or take a lock: its start
            // is waited for (the same way, before any counting), then the rest streams.
            return DEFER;
        }
        switch (t) {
            case TERMINATE -> {
                return STOP;
            }
            case QUERY, SYNC, FUNCTION_CALL -> {
                if (replayLook && t == FrontendTag.QUERY) {
                    statements++;
                }
                owed++;
                sawRequest = true;
                pendingAfter = false;
            }
            case PARSE, BIND, DESCRIBE, EXECUTE, CLOSE, FLUSH -> {
                if (replayLook && t == FrontendTag.EXECUTE) {
                    statements++;
                }
                sawRequest = true;
                pendingAfter = true;
            }
            default -> {
                // COPY data and password messages belong to a request already counted.
            }
        }
        if (edit) {
            byte kind = switch (t) {
                case PARSE -> ReplyQueue.PARSE;
                case BIND -> ReplyQueue.BIND;
                case DESCRIBE -> ReplyQueue.DESCRIBE;
                case EXECUTE -> ReplyQueue.EXECUTE;
                case CLOSE -> ReplyQueue.CLOSE;
                case SYNC -> ReplyQueue.SYNC;
                case QUERY, FUNCTION_CALL -> ReplyQueue.SIMPLE;
                default -> 0;
            };
            if (kind != 0) {
                if (kindCount == kinds.length) {
                    kinds = java.util.Arrays.copyOf(kinds, kindCount * 2);
                }
                kinds[kindCount++] = kind;
                if (kind == ReplyQueue.EXECUTE && deallocatingParse) {
                    deallocatingKind = kindCount - 1;
                    deallocatingParse = false;
                }
            }
        }
        if (head > 0) {
            byte[] start = new byte[head];
            for (int i = 0; i < head; i++) {
                start[i] = peek(i);
            }
            lookAt(tag, ByteBuffer.wrap(start), 0, head);
        }
        return inspect ? INSPECT : PASS;
    }

    /**
     * CUT for a message that names a prepared statement (the editor renames it), DEFER when
     * the names are not all in the buffer yet, PASS otherwise (unnamed statements, portals).
     */
    private int editDecision(FrontendTag t, int length) throws ProtocolException {
        int body = length - 4;
        int have = Math.min(peekable(), body);
        switch (t) {
            case PARSE -> {
                if (body < 1) {
                    return PASS;
                }
                return have < 1 ? DEFER : peek(0) != 0 ? CUT : PASS;
            }
            case DESCRIBE, CLOSE -> {
                if (body < 2) {
                    return PASS;
                }
                return have < 2 ? DEFER : peek(0) == 'S' && peek(1) != 0 ? CUT : PASS;
            }
            case BIND -> {
                int portalEnd = nul(0, have);
                if (portalEnd < 0) {
                    return namesIncomplete(have, body);
                }
                if (portalEnd + 1 >= have) {
                    return portalEnd + 1 >= body ? PASS : DEFER;
                }
                if (peek(portalEnd + 1) == 0) {
                    return PASS;
                }
                return nul(portalEnd + 1, have) < 0 ? namesIncomplete(have, body) : CUT;
            }
            default -> {
                return PASS;
            }
        }
    }

    private int nul(int from, int to) {
        for (int i = from; i < to; i++) {
            if (peek(i) == 0) {
                return i;
            }
        }
        return -1;
    }

    private int namesIncomplete(int have, int body) throws ProtocolException {
        if (have >= MAX_NAMES_LENGTH) {
            throw new ProtocolException("portal and statement names in Bind longer than " + MAX_NAMES_LENGTH + " bytes");
        }
        // A Bind cut short inside its names is malformed; the backend will say so.
        return have >= body ? PASS : DEFER;
    }

    /** Words (lower case) without which no look below finds anything. */
    private static final byte[][] NEEDLES = {bytes("advisory"), bytes("temp"), bytes("dealloc"), bytes("discard"), bytes("set_config")};

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Whether the statement start in {@code [from, to)} may pin, deallocate or be a plain SET:
     * it starts with SET or contains one of {@link #NEEDLES}, ignoring ASCII case. No allocation.
     */
    static boolean worthALook(ByteBuffer b, int from, int to) {
        int i = from;
        while (i < to && Character.isWhitespace(b.get(i))) {
            i++;
        }
        if (to - i >= 3 && lower(b.get(i)) == 's' && lower(b.get(i + 1)) == 'e' && lower(b.get(i + 2)) == 't') {
            return true;
        }
        if (to - i >= 5 && lower(b.get(i)) == 'r' && lower(b.get(i + 1)) == 'e' && lower(b.get(i + 2)) == 's'
                && lower(b.get(i + 3)) == 'e' && lower(b.get(i + 4)) == 't') {
            return true;
        }
        for (byte[] needle : NEEDLES) {
            if (contains(b, from, to, needle)) {
                return true;
            }
        }
        return false;
    }

    /** Statement starts after which the server alone knows whether the transaction committed. */
    private static final byte[][] COMMITTING = {bytes("commit"), bytes("end"), bytes("prepare transaction")};

    /**
     * Whether the statement text in {@code [from, to)} starts with COMMIT, END or PREPARE
     * TRANSACTION (COMMIT PREPARED too), ignoring ASCII case and leading white space. Only a
     * statement's start is looked at, as everywhere in the proxy: a COMMIT after a semicolon in
     * a multi-statement Query is not seen. No allocation.
     */
    static boolean mayCommit(ByteBuffer b, int from, int to) {
        int i = StatementStart.skipSpace(b, from, to);
        if (i == to) {
            return false;
        }
        int first = lower(b.get(i));
        if (first != 'c' && first != 'e' && first != 'p') {
            // The common statement, decided by its first letter.
            return false;
        }
        for (byte[] word : COMMITTING) {
            if (StatementStart.word(b, i, to, word)) {
                return true;
            }
        }
        return false;
    }

    private static boolean contains(ByteBuffer b, int from, int to, byte[] needle) {
        outer:
        for (int i = from; i <= to - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (lower(b.get(i + j)) != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static int lower(byte c) {
        return StatementStart.lower(c);
    }

    /**
     * Whether the statement keeps its run replayable: only the run's first statement may open
     * the block, none may end it, and each text must be one statement seen whole.
     */
    private void lookForReplay(ByteBuffer buffer, int start, int textEnd, boolean whole) {
        int kind = StatementStart.kind(buffer, start, textEnd);
        if (kind == StatementStart.OPENS && !sawText) {
            opensBlock = true;
        } else if (kind != StatementStart.PLAIN) {
            unreplayable = true;
        }
        if (!whole || StatementStart.severalStatements(buffer, start, textEnd)) {
            unreplayable = true;
        }
        sawText = true;
    }

    /**
     * The run goes on to execute a statement prepared by name whose text commits (pgjdbc sends
     * its COMMIT so after the first): the statement text is not in the run, the editor knows it.
     */
    void noteMayCommit() {
        mayCommit = true;
    }

    /** Marks an edited message as sent: it opens an extended-protocol request like any other. */
    void noteEdited() {
        sawRequest = true;
        pendingAfter = true;
    }

    @Override
    protected void onMessage(byte tag, ByteBuffer buffer, int bodyStart, int bodyLength) {
        lookAt(tag, buffer, bodyStart, bodyStart + bodyLength);
    }

    /** The cheap look at a Query's or Parse's statement text: pins and plain SETs. */
    void lookAt(byte tag, ByteBuffer buffer, int bodyStart, int end) {
        if (!peek) {
            return;
        }
        int start = bodyStart;
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
        if (!mayCommit && mayCommit(buffer, start, textEnd)) {
            mayCommit = true;
        }
        if (replayLook) {
            lookForReplay(buffer, start, textEnd, textEnd < end);
        }
        int window = Math.min(textEnd - start, SetStatement.MAX_LENGTH);
        if (!worthALook(buffer, start, start + window)) {
            // The common statement: none of the words the looks below search for.
            return;
        }
        // One copy of the statement's start serves all looks.
        byte[] head = new byte[window];
        buffer.get(start, head);
        String text = new String(head, StandardCharsets.UTF_8);
        if (PinDetector.mayDeallocate(text)) {
            mayDeallocate = true;
            if (tag == 'Q' && edit) {
                deallocatingKind = kindCount - 1;
            } else if (tag == 'P' && edit) {
                deallocatingParse = true;
            }
        }
        PinReason r = PinDetector.peekStatement(text);
        if (r != null && pin == null) {
            pin = r;
        }
        // Only a whole statement (its terminator seen) can be a plain SET the proxy replays.
        boolean whole = textEnd < end;
        SetStatement.Sent set = SetStatement.classify(text, whole && textEnd - start <= SetStatement.MAX_LENGTH);
        if (set != null) {
            sets.add(set);
        }
        SetStatement.Reset reset = whole && textEnd - start <= SetStatement.MAX_LENGTH ? SetStatement.parseReset(text) : null;
        if (reset != null) {
            resets.add(reset);
        }
    }
}
