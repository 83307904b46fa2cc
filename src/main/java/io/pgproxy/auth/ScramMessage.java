package io.pgproxy.auth;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A strict reader of SCRAM attribute lists ({@code a=value,b=value}). Attributes are consumed in the
 * order the caller demands, so anything out of order, repeated or unknown is an error rather than
 * something a lenient parser might misinterpret.
 */
final class ScramMessage {

    /** Longer than any honest SCRAM message; checked before anything else touches the input. */
    static final int MAX_LENGTH = 4096;

    static final String PROTOCOL_VIOLATION = "08P01";

    private final String[] parts;
    private int next;

    private ScramMessage(String text) {
        this.parts = text.split(",", -1);
    }

    static ScramMessage of(String text) {
        return new ScramMessage(text);
    }

    /** Decodes a wire message: bounded, valid UTF-8, free of control characters. */
    static String decode(byte[] message) throws AuthException {
        if (message == null) {
            throw malformed("SCRAM message is missing");
        }
        if (message.length > MAX_LENGTH) {
            throw malformed("SCRAM message is too long");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(message))
                    .toString();
        } catch (CharacterCodingException e) {
            throw malformed("SCRAM message is not valid UTF-8");
        }
        if (text.chars().anyMatch(c -> c < 0x20 || c == 0x7F)) {
            throw malformed("SCRAM message contains control characters");
        }
        return text;
    }

    /** The value of the next attribute, which must be {@code name}. */
    String require(char name, String description) throws AuthException {
        if (next >= parts.length || !isAttribute(parts[next], name)) {
            throw malformed("malformed SCRAM message: expected " + description + " (" + name + "=)");
        }
        return parts[next++].substring(2);
    }

    boolean nextIs(char name) {
        return next < parts.length && isAttribute(parts[next], name);
    }

    /** Everything consumed so far, exactly as received. */
    String consumed() {
        return String.join(",", java.util.Arrays.copyOfRange(parts, 0, next));
    }

    void requireEnd() throws AuthException {
        if (next != parts.length) {
            throw malformed("malformed SCRAM message: unexpected attribute or extension");
        }
    }

    /** RFC 5802 printable: visible ASCII except comma. */
    static boolean isPrintableNonce(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c >= 0x21 && c <= 0x7E && c != ',');
    }

    static AuthException malformed(String message) {
        return new AuthException(PROTOCOL_VIOLATION, message);
    }

    private static boolean isAttribute(String part, char name) {
        return part.length() >= 2 && part.charAt(0) == name && part.charAt(1) == '=';
    }
}
