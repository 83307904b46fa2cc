package io.pgproxy.auth;

import java.text.Normalizer;

/**
 * An approximation of PostgreSQL's pg_saslprep (RFC 4013). Like PostgreSQL, a password that SASLprep
 * would reject is used unchanged rather than refused, so that verifiers made here match the server's.
 * The tables are those of RFC 3454 as far as the JDK can express them; unassigned code points are
 * judged by the JDK's newer Unicode version, which only matters for exotic passwords.
 */
final class SaslPrep {

    private SaslPrep() {
    }

    static String prepare(String password) {
        if (password.chars().allMatch(c -> c < 0x80)) {
            // PostgreSQL skips SASLprep for pure ASCII, control characters included.
            return password;
        }
        StringBuilder mapped = new StringBuilder(password.length());
        for (int i = 0; i < password.length(); ) {
            int cp = password.codePointAt(i);
            i += Character.charCount(cp);
            if (isMappedToNothing(cp)) {
                continue;
            }
            mapped.appendCodePoint(isNonAsciiSpace(cp) ? ' ' : cp);
        }
        String normalized = Normalizer.normalize(mapped, Normalizer.Form.NFKC);
        if (normalized.isEmpty() || normalized.codePoints().anyMatch(SaslPrep::isProhibited) || !bidiOk(normalized)) {
            return password;
        }
        return normalized;
    }

    private static boolean isMappedToNothing(int cp) {
        return cp == 0x00AD || cp == 0x034F || cp == 0x1806 || (cp >= 0x180B && cp <= 0x180D)
                || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || (cp >= 0xFE00 && cp <= 0xFE0F)
                || cp == 0xFEFF;
    }

    private static boolean isNonAsciiSpace(int cp) {
        return cp == 0x00A0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    private static boolean isProhibited(int cp) {
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            return true;
        }
        return isNonAsciiSpace(cp)
                || cp == 0x06DD || cp == 0x070F || cp == 0x180E || cp == 0x2028 || cp == 0x2029
                || (cp >= 0x200C && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E)
                || (cp >= 0x2060 && cp <= 0x2063) || (cp >= 0x206A && cp <= 0x206F)
                || (cp >= 0x2FF0 && cp <= 0x2FFB) || cp == 0x0340 || cp == 0x0341
                || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE
                || (cp >= 0xFFF9 && cp <= 0xFFFD) || cp == 0xFEFF
                || (cp >= 0x1D173 && cp <= 0x1D17A) || cp == 0xE0001 || (cp >= 0xE0020 && cp <= 0xE007F)
                || Character.getType(cp) == Character.PRIVATE_USE
                || Character.getType(cp) == Character.SURROGATE
                || Character.getType(cp) == Character.UNASSIGNED;
    }

    /** RFC 3454 section 6: right-to-left text must not mix in left-to-right and must start and end RTL. */
    private static boolean bidiOk(String s) {
        boolean anyRtl = s.codePoints().anyMatch(SaslPrep::isRtl);
        if (!anyRtl) {
            return true;
        }
        boolean anyLtr = s.codePoints().anyMatch(cp -> Character.getDirectionality(cp) == Character.DIRECTIONALITY_LEFT_TO_RIGHT);
        return !anyLtr && isRtl(s.codePointAt(0)) && isRtl(s.codePointBefore(s.length()));
    }

    private static boolean isRtl(int cp) {
        byte d = Character.getDirectionality(cp);
        return d == Character.DIRECTIONALITY_RIGHT_TO_LEFT || d == Character.DIRECTIONALITY_RIGHT_TO_LEFT_ARABIC;
    }
}
