package io.pgproxy.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SaslPrepTest {

    @Test
    void asciiIsUnchangedEvenWithControlCharacters() {
        assertEquals("pencil", SaslPrep.prepare("pencil"));
        assertEquals("a\tb", SaslPrep.prepare("a\tb"));
    }

    @Test
    void mapsSpacesDropsInvisiblesAndNormalises() {
        assertEquals("I X", SaslPrep.prepare("I\u00a0X"));
        assertEquals("IX", SaslPrep.prepare("I\u00adX"));
        assertEquals("IX", SaslPrep.prepare("\u2168"));
        assertEquals("\u00e9", SaslPrep.prepare("e\u0301"));
    }

    @Test
    void prohibitedInputIsUsedRaw() {
        String withControl = "p\u00e4ss\u0007";
        assertEquals(withControl, SaslPrep.prepare(withControl));
        String privateUse = "\u00e4\ue000";
        assertEquals(privateUse, SaslPrep.prepare(privateUse));
        String mixedBidi = "\u05d0a\u05d0";
        assertEquals(mixedBidi, SaslPrep.prepare(mixedBidi));
    }

    /** RFC 4013 section 3's examples; the two it rejects are used raw, as PostgreSQL does. */
    @Test
    void rfc4013Examples() {
        assertEquals("IX", SaslPrep.prepare("I\u00adX"), "SOFT HYPHEN mapped to nothing");
        assertEquals("user", SaslPrep.prepare("user"));
        assertEquals("USER", SaslPrep.prepare("USER"), "case preserved");
        assertEquals("a", SaslPrep.prepare("\u00aa"), "output is NFKC");
        assertEquals("IX", SaslPrep.prepare("\u2168"), "output is NFKC");
        assertEquals("\u0007", SaslPrep.prepare("\u0007"), "prohibited, but ASCII is never prepared");
        assertEquals("\u0627\u0031", SaslPrep.prepare("\u0627\u0031"), "bidi violation: used raw");
    }

    @Test
    void unassignedInUnicode32IsProhibitedForStoredStrings() {
        // U+0221 was unassigned in Unicode 3.2 (RFC 3454 table A.1), assigned since 4.0: the
        // whole password is used raw, soft hyphen included, as PostgreSQL does.
        String s = "I\u00adX\u0221";
        assertEquals(s, SaslPrep.prepare(s));
    }
}
