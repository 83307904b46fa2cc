package io.pgproxy.client;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.backend.ReplyQueue;
import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;
import io.pgproxy.protocol.message.TransactionStatus;
import io.pgproxy.session.ClientStatements;
import io.pgproxy.session.ReplyClock;
import io.pgproxy.session.PreparedStatement;
import io.pgproxy.session.StatementCounters;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntSupplier;

/**
 * Makes every backend look prepared to a client in transaction pooling. The client's Parse,
 * Bind, Describe and Close of a named statement arrive here one at a time, in stream order;
 * names are replaced by proxy-wide ones, a statement the backend lacks is prepared just before
 * its first use there (its ParseComplete hidden), and a Parse or Close the backend need not see
 * is answered by the proxy. The backend's {@link ReplyQueue} keeps the replies in order.
 *
 * <p>Names the client never parsed pass through unchanged, so the backend reports them as
 * PostgreSQL would (26000) — except names in the proxy's own namespace, which are moved out of
 * it so no client can reach another's statements.
 */
final class StatementEditor {
    private static final byte[] PARSE_COMPLETE = {'1', 0, 0, 0, 4};
    private static final byte[] CLOSE_COMPLETE = {'3', 0, 0, 0, 4};
    /** Flush: asks the backend for what it holds back until Sync; it has no reply of its own. */
    private static final byte[] FLUSH = {'H', 0, 0, 0, 4};
    private static final byte[] UNNAMED = {0};
    private static final java.time.Duration DEALLOCATION_WAIT = java.time.Duration.ofSeconds(30);
    private static final byte[] READY_FOR_QUERY_IDLE = {'Z', 0, 0, 0, 5, 'I'};
    private static final String FOREIGN_PREFIX = PreparedStatement.NAME_PREFIX + "client_";

    private final ClientStatements statements;
    private final StatementCounters counters;
    private final IntSupplier capacity;
    private final IntSupplier clientLimit;
    private final ReplyQueue.Emitter toClient;
    private final ReplyClock clock;

    /**
     * @param capacity    statements each backend keeps prepared (the pool's setting, read on use)
     * @param clientLimit named statements this client may hold at once
     */
    StatementEditor(ClientStatements statements, StatementCounters counters, IntSupplier capacity,
                    IntSupplier clientLimit, ReplyQueue.Emitter toClient, ReplyClock clock) {
        this.statements = statements;
        this.clock = clock;
        this.counters = counters;
        this.capacity = capacity;
        this.clientLimit = clientLimit;
        this.toClient = toClient;
    }

    /** The proxy keeps every name's text: past the limit the client is closed, not the proxy's memory spent. */
    private void checkLimit() throws ProtocolException {
        int limit = clientLimit.getAsInt();
        if (statements.size() >= limit) {
            throw new ProtocolException("53400", "too many prepared statements: this client holds " + limit
                    + ", the most pgproxy allows (pgproxy.limits.max-client-prepared-statements)");
        }
    }

    ClientStatements statements() {
        return statements;
    }

    /** The lease holder's backend, leased now if the client holds none. */
    @FunctionalInterface
    interface Lease {
        BackendConnection backend() throws IOException;
    }

    /**
     * Edits the message at {@code buffer}'s position (whole, or for Bind its names) into
     * {@code out}, leaving the position after what it consumed. A Parse, Describe or Close split
     * across reads is completed from {@code channel}. A client that holds no backend and owes
     * nothing gets its Parse of a statement some backend already accepted, and its Sync,
     * answered here: preparing costs it no backend and no round trip.
     */
    void edit(RequestScanner scanner, ByteBuffer buffer, ReadableByteChannel channel, Lease lease, Outbox out)
            throws IOException {
        int at = buffer.position();
        byte tag = buffer.get(at);
        int length = buffer.getInt(at + 1);
        if (tag == 'B') {
            editBind(scanner, buffer, at, length, afterDeallocation(lease.backend(), out), out);
            return;
        }
        if (tag == 'S') {
            // Only cut while the client holds no backend and owes nothing: PostgreSQL would
            // answer a bare Sync outside a transaction with ReadyForQuery idle.
            buffer.position(at + 5);
            toClient.emit(ByteBuffer.wrap(READY_FOR_QUERY_IDLE));
            return;
        }
        byte[] message = wholeMessage(buffer, at, length, channel);
        switch (tag) {
            case 'P' -> editParse(scanner, message, lease, out);
            case 'D' -> editDescribe(message, afterDeallocation(lease.backend(), out), out);
            case 'C' -> editClose(message, afterDeallocation(lease.backend(), out), out);
            default -> throw new IllegalStateException("not an editable message: " + (char) tag);
        }
    }

    private void editParse(RequestScanner scanner, byte[] message, Lease lease, Outbox out) throws IOException {
        int nameEnd = nul(message, 5);
        if (nameEnd >= message.length) {
            // Malformed: the backend answers it as PostgreSQL does.
            out.add(message);
            lease.backend().replies().expect(ReplyQueue.PARSE);
            return;
        }
        String name = string(message, 5, nameEnd);
        byte[] rest = Arrays.copyOfRange(message, nameEnd + 1, message.length);
        scanner.lookAt((byte) 'P', ByteBuffer.wrap(message), 5, message.length);
        PreparedStatement existing = statements.get(name);
        if (existing == null) {
            checkLimit();
        }
        if (existing == null && scanner.quiet) {
            PreparedStatement known = statements.peekVerified(rest);
            if (known != null) {
                statements.define(name, rest, clock.next());
                counters.hit();
                toClient.emit(ByteBuffer.wrap(PARSE_COMPLETE));
                return;
            }
        }
        BackendConnection b = afterDeallocation(lease.backend(), out);
        existing = statements.get(name);
        if (existing != null) {
            // PostgreSQL refuses to redefine a name (42P05): let the backend say so, by
            // parsing the proxy's name for it where that name exists.
            ensurePrepared(existing, b, out);
            out.add(parse(existing.cname(), rest));
            b.replies().expect(ReplyQueue.PARSE);
            return;
        }
        PreparedStatement s = statements.define(name, rest, clock.next());
        if (b.status() == TransactionStatus.FAILED) {
            // Inside a failed transaction PostgreSQL refuses a Parse (25P02) unless it ends the
            // transaction: send it unnamed so the backend decides, and forget the name if it fails.
            out.add(parse(UNNAMED, rest));
            b.replies().expect(ReplyQueue.PARSE, () -> statements.undefine(name, s));
            return;
        }
        if (b.statements().use(s.name()) && !b.replies().deallocationPending()) {
            counters.hit();
            b.replies().synthesize(PARSE_COMPLETE, () -> statements.undefine(name, s), toClient);
            return;
        }
        prepare(s, b, out, false, () -> statements.undefine(name, s));
    }

    /**
     * The backend, once a DEALLOCATE or DISCARD sent ahead of this message (as a Query, or as
     * the Execute of a Parse that says so) has been answered:
     * until then the client's names may or may not still exist. Sends what is queued first, so
     * the backend has it to answer. Rare (such a statement pipelined before uses of names).
     */
    private BackendConnection afterDeallocation(BackendConnection b, Outbox out) throws IOException {
        if (b.replies().deallocationUnanswered()) {
            out.flushTo(b);
            // An Execute's answer waits in the backend's buffer for a Sync the client has not
            // sent yet; a Flush brings it out, and answers nothing itself.
            b.send(ByteBuffer.wrap(FLUSH));
            try {
                if (!b.replies().awaitDeallocation(DEALLOCATION_WAIT)) {
                    throw new IOException(b.id() + " did not answer a DEALLOCATE/DISCARD within " + DEALLOCATION_WAIT);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for " + b.id());
            }
        }
        return b;
    }

    private void editBind(RequestScanner scanner, ByteBuffer buffer, int at, int length, BackendConnection b,
                          Outbox out) throws ProtocolException {
        int portalEnd = nul(buffer, at + 5);
        int nameEnd = nul(buffer, portalEnd + 1);
        String name = Wire.cstring(buffer, portalEnd + 1, nameEnd + 1);
        byte[] portal = new byte[portalEnd + 1 - (at + 5)];
        buffer.get(at + 5, portal);
        PreparedStatement named = statements.get(name);
        byte[] replacement = replacementName(name, named, b, out);
        if (named != null && commits(named)) {
            // After the claim that took the run before this Bind: the Execute that follows commits.
            scanner.noteMayCommit();
        }
        int oldPrefix = nameEnd + 1 - (at + 5);
        int newLength = length - oldPrefix + portal.length + replacement.length;
        ByteBuffer head = ByteBuffer.allocate(5 + portal.length + replacement.length);
        head.put((byte) 'B').putInt(newLength).put(portal).put(replacement).flip();
        out.add(head);
        b.replies().expect(ReplyQueue.BIND);
        buffer.position(nameEnd + 1);
        scanner.passBody(length - 4L - oldPrefix);
    }

    private void editDescribe(byte[] message, BackendConnection b, Outbox out) {
        String name = string(message, 6, nul(message, 6));
        byte[] replacement = replacementName(name, statements.get(name), b, out);
        out.add(ofStatement((byte) 'D', replacement));
        b.replies().expect(ReplyQueue.DESCRIBE);
    }

    private void editClose(byte[] message, BackendConnection b, Outbox out) throws IOException {
        String name = string(message, 6, nul(message, 6));
        PreparedStatement closed = statements.close(name);
        if (closed != null) {
            // The backend's copy stays for other clients; the client's name is gone.
            b.replies().synthesize(CLOSE_COMPLETE, () -> statements.redefine(name, closed, clock.next()), toClient);
            return;
        }
        out.add(ofStatement((byte) 'C', foreign(name)));
        b.replies().expect(ReplyQueue.CLOSE);
    }

    /** Whether the statement's text starts with COMMIT, END or PREPARE TRANSACTION. */
    private static boolean commits(PreparedStatement s) {
        byte[] parse = s.parseMessage();
        int textStart = nul(parse, 5) + 1;
        int textEnd = textStart < parse.length ? nul(parse, textStart) : textStart;
        return textEnd > textStart && RequestScanner.mayCommit(ByteBuffer.wrap(parse), textStart, textEnd);
    }

    /**
     * The backend-side name for the statement {@code s} a Bind or Describe names as {@code name}
     * (null: the client never prepared it), preparing it there first if needed.
     */
    private byte[] replacementName(String name, PreparedStatement s, BackendConnection b, Outbox out) {
        if (s == null) {
            return foreign(name);
        }
        ensurePrepared(s, b, out);
        return s.cname();
    }

    private void ensurePrepared(PreparedStatement s, BackendConnection b, Outbox out) {
        if (b.statements().use(s.name()) && !b.replies().deallocationPending()) {
            counters.hit();
            return;
        }
        prepare(s, b, out, true, null);
    }

    /**
     * Sends a Parse of {@code s} (hidden: its reply is dropped) and records it on the backend;
     * if the backend fails or skips it, the record is undone and then {@code alsoUndo} runs.
     */
    private void prepare(PreparedStatement s, BackendConnection b, Outbox out, boolean hidden, Runnable alsoUndo) {
        boolean mayHold = b.statements().mayHold(s.name());
        ReplyQueue.Outcome undo = new ReplyQueue.Outcome() {
            @Override
            public void done() {
                s.verify();
            }

            @Override
            public void notDone() {
                if (mayHold) {
                    // Whether its Close ran or was skipped too, the backend may or may not hold it.
                    b.statements().doubt(s.name(), clock.next());
                } else {
                    b.statements().remove(s.name());
                }
                if (alsoUndo != null) {
                    alsoUndo.run();
                }
            }
        };
        if (mayHold) {
            // Held, unless a DEALLOCATE or DISCARD still in flight drops it, or a skipped Close
            // left it in doubt: closing a statement that is gone is no error, so Close then
            // Parse is right either way.
            out.add(ofStatement((byte) 'C', s.cname()));
            b.replies().expectHidden(ReplyQueue.CLOSE, () -> b.statements().doubt(s.name(), clock.next()));
        }
        // Inside a transaction nothing is evicted: a statement the transaction uses could not be
        // prepared again if the transaction failed (25P02). The surplus goes at the next Parse outside.
        int limit = b.status() == TransactionStatus.IDLE ? Math.max(1, capacity.getAsInt()) : Integer.MAX_VALUE;
        for (String evicted : b.statements().add(s.name(), limit, clock.next())) {
            out.add(ofStatement((byte) 'C', cstring(evicted)));
            b.replies().expectHidden(ReplyQueue.CLOSE, () -> b.statements().doubt(evicted, clock.next()));
            counters.evicted();
        }
        out.add(s.parseMessage());
        if (hidden) {
            b.replies().expectHidden(ReplyQueue.PARSE, undo);
        } else {
            b.replies().expect(ReplyQueue.PARSE, undo);
        }
        counters.prepared();
    }

    /** A Parse of {@code cname} (a C string) with the text and types of {@code rest}. */
    private static byte[] parse(byte[] cname, byte[] rest) {
        return new MessageBuilder().begin((byte) 'P').bytes(cname).bytes(rest).end().toByteArray();
    }

    /** A Describe or Close ({@code tag}) of the statement named {@code cname} (a C string). */
    private static byte[] ofStatement(byte tag, byte[] cname) {
        return new MessageBuilder().begin(tag).int8('S').bytes(cname).end().toByteArray();
    }

    /** A name the client never parsed, kept out of the proxy's namespace. */
    private static byte[] foreign(String name) {
        return cstring(name.startsWith(PreparedStatement.NAME_PREFIX) ? FOREIGN_PREFIX + name : name);
    }

    private static byte[] cstring(String s) {
        return new MessageBuilder().cstring(s).toByteArray();
    }

    /** The whole message: from the buffer, and from the channel for what has not arrived. */
    private static byte[] wholeMessage(ByteBuffer buffer, int at, int length, ReadableByteChannel channel) throws IOException {
        byte[] message = new byte[1 + length];
        int inBuffer = Math.min(message.length, buffer.limit() - at);
        buffer.get(at, message, 0, inBuffer);
        buffer.position(at + inBuffer);
        ByteBuffer rest = ByteBuffer.wrap(message, inBuffer, message.length - inBuffer);
        while (rest.hasRemaining()) {
            if (channel.read(rest) < 0) {
                throw new EOFException("client closed the connection inside a message");
            }
        }
        return message;
    }

    private static int nul(byte[] m, int from) {
        for (int i = from; i < m.length; i++) {
            if (m[i] == 0) {
                return i;
            }
        }
        return m.length;
    }

    private static int nul(ByteBuffer b, int from) throws ProtocolException {
        for (int i = from; i < b.limit(); i++) {
            if (b.get(i) == 0) {
                return i;
            }
        }
        throw new ProtocolException("unterminated name in Bind");
    }

    private static String string(byte[] m, int from, int to) {
        return new String(m, from, Math.max(0, to - from), StandardCharsets.UTF_8);
    }
}
