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
}
