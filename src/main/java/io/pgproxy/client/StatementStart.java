package io.pgproxy.client;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What the start of a statement text says about the transaction block it runs in, for
 * transaction replay: whether it opens a block, or ends or controls one (after which a replay
 * could apply something twice), and whether a text holds more than one statement. Only the
 * words are looked at, never parsed: a doubt counts against replay. No allocation.
 */
final class StatementStart {
    /** A statement that neither opens nor ends a block. */
    static final int PLAIN = 0;
    /** BEGIN or START TRANSACTION. */
    static final int OPENS = 1;
    /** COMMIT, END, PREPARE TRANSACTION, ROLLBACK, ABORT: the block ends, or may. */
    static final int ENDS = 2;

    private static final byte[] BEGIN = bytes("begin");
    private static final byte[] START = bytes("start");
    private static final byte[][] ENDING = {bytes("commit"), bytes("end"), bytes("prepare"), bytes("rollback"), bytes("abort")};

    private StatementStart() {
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** {@link #PLAIN}, {@link #OPENS} or {@link #ENDS} for the text in {@code [from, to)}. */
    static int kind(ByteBuffer b, int from, int to) {
        int i = skipSpace(b, from, to);
        if (i == to) {
            return PLAIN;
        }
        int first = lower(b.get(i));
        if (first == 'b' || first == 's') {
            return word(b, i, to, BEGIN) || word(b, i, to, START) ? OPENS : PLAIN;
        }
        if (first != 'c' && first != 'e' && first != 'p' && first != 'r' && first != 'a') {
            return PLAIN;
        }
        for (byte[] w : ENDING) {
            if (word(b, i, to, w)) {
                return ENDS;
            }
        }
        return PLAIN;
    }

    /**
     * Whether {@code [from, to)} holds a statement after a semicolon. A semicolon inside a
     * string literal counts too: refusing a replay is always safe.
     */
    static boolean severalStatements(ByteBuffer b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b.get(i) == ';') {
                for (int j = i + 1; j < to; j++) {
                    byte c = b.get(j);
                    if (c != ';' && !Character.isWhitespace(c)) {
                        return true;
                    }
                }
                return false;
            }
        }
        return false;
    }

    /** Whether the text from {@code i} starts with {@code w} (lower case) as a whole word, ignoring ASCII case. */
    static boolean word(ByteBuffer b, int i, int to, byte[] w) {
        if (to - i < w.length) {
            return false;
        }
        for (int j = 0; j < w.length; j++) {
            if (lower(b.get(i + j)) != w[j]) {
                return false;
            }
        }
        int after = i + w.length;
        return after == to || !Character.isLetterOrDigit(b.get(after)) && b.get(after) != '_';
    }

    static int skipSpace(ByteBuffer b, int from, int to) {
        int i = from;
        while (i < to && Character.isWhitespace(b.get(i))) {
            i++;
        }
        return i;
    }

    static int lower(byte c) {
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    }
}
