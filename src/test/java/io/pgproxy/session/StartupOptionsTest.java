package io.pgproxy.session;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StartupOptionsTest {
    @Test
    void readsTheFormsThatSetParameters() {
        assertEquals(Map.of("work_mem", "7MB", "statement_timeout", "5s", "application_name", "my app"),
                StartupOptions.parse("-c work_mem=7MB --statement-timeout=5s -capplication_name=my\\ app"));
        assertEquals(Map.of(), StartupOptions.parse("  "));
    }

    @Test
    void refusesOtherSwitches() {
        assertThrows(IllegalArgumentException.class, () -> StartupOptions.parse("-B 100"));
        assertThrows(IllegalArgumentException.class, () -> StartupOptions.parse("-c"));
        assertThrows(IllegalArgumentException.class, () -> StartupOptions.parse("-c =x"));
    }
}
