package io.pgproxy.backend;

import io.pgproxy.session.ReplyClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The replies a backend owes, message by message, when the proxy edits a client's request
 * stream (prepared statements in transaction pooling). It lets the reader drop the replies to
 * messages the proxy added (a Parse before a Bind on a backend that lacked the statement) and
 * put the proxy's own replies (ParseComplete for a Parse it did not send) exactly where a
 * direct connection would have sent them.
 *
 * <p>The lease holder appends one entry per message it sends, before sending it. The reader
 * matches each backend message against the head: a message that completes the head's reply
 * pops it. After an ErrorResponse to an extended-protocol message the backend ignores
 * everything up to Sync; so does the queue: those entries are popped unanswered, and a
 * synthetic reply among them is never sent.
 *
 * <p>The reader holds the lock while it matches and forwards a run, so a synthetic reply the
 * lease holder sends at once (nothing owed before it) can never overtake relayed ones.
 */
public final class ReplyQueue {
    /** Kinds of entries, one per message sent (Flush owes nothing and gets none). */
    public static final byte PARSE = 1;
    public static final byte BIND = 2;
    public static final byte DESCRIBE = 3;
    public static final byte EXECUTE = 4;
    public static final byte CLOSE = 5;
    public static final byte SYNC = 6;
    /** A simple Query or FunctionCall: everything up to its ReadyForQuery. */
    public static final byte SIMPLE = 7;
    /** No message was sent: the proxy answers with the entry's bytes when it comes due. */
    public static final byte SYNTHETIC = 8;

    /** What the reader does with a backend message. */
    static final int FORWARD = 0;
    /** The reply to a message the proxy added: not for the client. */
    static final int DROP = 1;
    /** Synthetic replies are due before this message: send them, then look again. */
    static final int EMIT = 2;

    /** What the proxy assumed when sending a message, settled by its reply. */
    public interface Outcome {
        /** The message completed. */
        default void done() {
        }

        /** The backend failed or skipped the message. */
        void notDone();
    }

    /** A reply the proxy gives itself, and what to undo if the message it stands for is skipped. */
    private record Synthetic(byte[] reply, Runnable onSkipped) {
    }

    /** Something to write to the client. */
    @FunctionalInterface
    public interface Emitter {
        void emit(ByteBuffer bytes) throws IOException;
    }

    /** Orders entries and the statement bookkeeping done between them, across the server's queues. */
    private final ReplyClock clock;

    public ReplyQueue(ReplyClock clock) {
        this.clock = clock;
    }

    private final ReentrantLock lock = new ReentrantLock();
    private long[] stamps = new long[16];
    private byte[] kinds = new byte[16];
    private boolean[] hidden = new boolean[16];
    private Object[] payloads = new Object[16];
    private int head;
    private int size;
    /** An error ended the current extended-protocol request: entries up to the next Sync get no reply. */
    private boolean skipping;
    /** The server went away: nothing more is answered here, a reply the proxy gives itself included. */
    private boolean abandoned;
    /**
     * A statement that may deallocate prepared statements is among the entries: until they are
     * all answered, which statements the backend holds is uncertain.
     */
    private boolean deallocationPending;
    /** The stamp of the last simple Query that may deallocate; 0 when none is unanswered. */
    private long deallocationStamp;
    private final java.util.concurrent.locks.Condition answered = lock.newCondition();
    private boolean awaiting;
    /** A reply arrived that matches no entry: the proxy lost track of this backend. */
    private volatile boolean lost;

    void lock() {
        lock.lock();
    }

    void unlock() {
        lock.unlock();
    }

    /** A message whose reply is relayed to the client. */
    public void expect(byte kind) {
        add(kind, false, null);
    }

    /** A message whose reply is relayed; {@code outcome} learns whether it completed. */
    public void expect(byte kind, Outcome outcome) {
        add(kind, false, outcome);
    }

    /** A message the proxy added: its reply is dropped; {@code outcome} as above. */
    public void expectHidden(byte kind, Outcome outcome) {
        add(kind, true, outcome);
    }

    /**
     * Entries for a run of relayed messages, {@code kinds[0, n)}; the one at {@code deallocating}
     * (or none, -1) is a simple Query that may deallocate prepared statements.
     */
    public void expectAll(byte[] runKinds, int n, int deallocating) {
        lock.lock();
        try {
            for (int i = 0; i < n; i++) {
                addLocked(runKinds[i], false, null);
                if (i == deallocating && size > 0) {
                    deallocationPending = true;
                    deallocationStamp = stamps[(head + size - 1) % kinds.length];
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A reply the proxy gives itself: sent now through {@code emitter} when nothing is owed
     * before it, else when the reader reaches it; never when an error made the backend skip
     * the message it stands for.
     */
    public void synthesize(byte[] reply, Runnable onSkipped, Emitter emitter) throws IOException {
        lock.lock();
        try {
            if (skipping || abandoned) {
                onSkipped.run();
                return;
            }
            if (size == 0) {
                emitter.emit(ByteBuffer.wrap(reply));
                return;
            }
            addLocked(SYNTHETIC, false, new Synthetic(reply, onSkipped));
        } finally {
            lock.unlock();
        }
    }

    /**
     * The server went away. Its loss answers what was owed with errors; a reply the proxy would
     * give itself for a message sent after that (a Parse the backend had) would reach the client
     * after those errors, out of step, so from now on it is skipped as after an error.
     */
    public void abandon() {
        lock.lock();
        try {
            abandoned = true;
        } finally {
            lock.unlock();
        }
    }

    /** The messages about to be appended include one that may deallocate prepared statements. */
    public void expectDeallocation() {
        lock.lock();
        try {
            deallocationPending = true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits, bounded, until a simple Query that may deallocate prepared statements has been
     * answered, so the client's names are known again. True if none is left unanswered.
     */
    public boolean awaitDeallocation(java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (deallocationStamp != 0 && size > 0 && stamps[head] <= deallocationStamp) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                awaiting = true;
                answered.awaitNanos(left);
            }
            deallocationStamp = 0;
            return true;
        } finally {
            awaiting = false;
            lock.unlock();
        }
    }

    /** True while a simple Query that may deallocate statements is unanswered. */
    public boolean deallocationUnanswered() {
        lock.lock();
        try {
            return deallocationStamp != 0 && size > 0 && stamps[head] <= deallocationStamp;
        } finally {
            lock.unlock();
        }
    }

    /** True while a possible deallocation is unanswered: the backend's statement list may be stale. */
    public boolean deallocationPending() {
        lock.lock();
        try {
            return deallocationPending;
        } finally {
            lock.unlock();
        }
    }

    public boolean isEmpty() {
        lock.lock();
        try {
            return size == 0 && !skipping;
        } finally {
            lock.unlock();
        }
    }

    /** True once a reply matched no entry; such a backend must not be reused. */
    public boolean lost() {
        return lost;
    }

    /** Forgets everything (the backend is being closed or reset). */
    public void clear() {
        lock.lock();
        try {
            Arrays.fill(payloads, null);
            head = 0;
            size = 0;
            skipping = false;
            deallocationPending = false;
            deallocationStamp = 0;
        } finally {
            lock.unlock();
        }
    }

    private void add(byte kind, boolean hide, Object payload) {
        lock.lock();
        try {
            addLocked(kind, hide, payload);
        } finally {
            lock.unlock();
        }
    }

    /** The stamp of the entry whose replies the reader is relaying (its lock held); MAX_VALUE when none. */
    public long headStamp() {
        lock.lock();
        try {
            return size == 0 ? Long.MAX_VALUE : stamps[head];
        } finally {
            lock.unlock();
        }
    }

    private void addLocked(byte kind, boolean hide, Object payload) {
        if (skipping) {
            // The backend is already discarding messages until Sync; this one gets no reply.
            if (kind == SYNC) {
                skipping = false;
            } else {
                notDone(payload);
                return;
            }
        }
        if (size == kinds.length) {
            grow();
        }
        int i = (head + size) % kinds.length;
        stamps[i] = clock.next();
        kinds[i] = kind;
        hidden[i] = hide;
        payloads[i] = payload;
        size++;
    }

    private void grow() {
        int n = kinds.length * 2;
        long[] st = new long[n];
        byte[] k = new byte[n];
        boolean[] h = new boolean[n];
        Object[] p = new Object[n];
        for (int j = 0; j < size; j++) {
            int i = (head + j) % kinds.length;
            st[j] = stamps[i];
            k[j] = kinds[i];
            h[j] = hidden[i];
            p[j] = payloads[i];
        }
        stamps = st;
        kinds = k;
        hidden = h;
        payloads = p;
        head = 0;
    }

    /**
     * Matches a backend message (by tag) against the head entry; the reader holds the lock.
     * Returns {@link #FORWARD}, {@link #DROP} (head popped) or {@link #EMIT} (nothing popped).
     */
    int onReply(byte tag) {
        if (size == 0) {
            // Nothing tracked: asynchronous messages, or a backend's own FATAL.
            return FORWARD;
        }
        byte kind = kinds[head];
        if (kind == SYNTHETIC) {
            return EMIT;
        }
        switch (tag) {
            case 'N', 'S', 'A', 'D', 't', 'G', 'H', 'W', 'd', 'c', 'V' -> {
                return FORWARD;
            }
            case 'Z' -> {
                if (kind == SYNC || kind == SIMPLE) {
                    return pop();
                }
                lost = true;
                return FORWARD;
            }
            case 'E' -> {
                if (kind == SYNC || kind == SIMPLE) {
                    return FORWARD;
                }
                // The error reaches the client even for a message the proxy added: it stands
                // in for the error the client's own message would have met.
                skipping = true;
                skipToSync();
                return FORWARD;
            }
            default -> {
                if (kind == SIMPLE) {
                    return FORWARD;
                }
                if (completes(kind, tag)) {
                    return pop();
                }
                lost = true;
                return FORWARD;
            }
        }
    }

    private static boolean completes(byte kind, byte tag) {
        return switch (kind) {
            case PARSE -> tag == '1';
            case BIND -> tag == '2';
            case DESCRIBE -> tag == 'T' || tag == 'n';
            case EXECUTE -> tag == 'C' || tag == 'I' || tag == 's';
            case CLOSE -> tag == '3';
            default -> false;
        };
    }

    /** Pops synthetic replies now due and returns them, or null; the reader holds the lock. */
    byte[] takeSynthetic() {
        if (size > 0 && kinds[head] == SYNTHETIC) {
            Synthetic s = (Synthetic) payloads[head];
            popQuietly();
            return s.reply();
        }
        return null;
    }

    private int pop() {
        boolean drop = hidden[head];
        if (payloads[head] instanceof Outcome o) {
            o.done();
        }
        popQuietly();
        return drop ? DROP : FORWARD;
    }

    private void popQuietly() {
        payloads[head] = null;
        head = (head + 1) % kinds.length;
        size--;
        if (size == 0) {
            deallocationPending = false;
        }
        if (awaiting) {
            answered.signalAll();
        }
    }

    /**
     * Pops the failed entry and those the backend will not answer; stops at a Sync, whose
     * ReadyForQuery comes. What they assumed is undone last first, so a Close and a Parse of
     * one name in the skipped run leave the name as it was before them.
     */
    private void skipToSync() {
        Object[] undo = new Object[size];
        int n = 0;
        while (size > 0) {
            if (kinds[head] == SYNC) {
                skipping = false;
                break;
            }
            undo[n++] = payloads[head];
            popQuietly();
        }
        while (n > 0) {
            notDone(undo[--n]);
        }
    }

    private static void notDone(Object payload) {
        if (payload instanceof Outcome o) {
            o.notDone();
        } else if (payload instanceof Synthetic s) {
            s.onSkipped().run();
        }
    }
}
