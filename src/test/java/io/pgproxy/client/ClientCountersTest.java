package io.pgproxy.client;

import io.pgproxy.pool.RefusalReason;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ClientCountersTest {
    @Test
    void errorsAreCountedByTheirSqlStateClass() {
        ClientCounters c = new ClientCounters();
        c.errorSent("3D000");
        c.errorSent("53300");
        c.errorSent("53400");
        assertEquals(Map.of("3D", 1L, "53", 2L), c.errorsByClass());
    }

    @Test
    void malformedSqlStatesAndClassesPastTheCapAreCountedAsOther() {
        ClientCounters c = new ClientCounters();
        c.errorSent(null);
        c.errorSent("xx000");
        c.errorSent("3D00");
        assertEquals(Map.of(ClientCounters.OTHER_CLASS, 3L), c.errorsByClass());
        for (int i = 0; i < 200; i++) {
            c.errorSent(String.format("%02d000", i % 100).substring(0, 2) + "A" + (char) ('A' + i % 26) + "0");
        }
        assertEquals(ClientCounters.MAX_ERROR_CLASSES, c.errorsByClass().size(),
                "label values stay bounded whatever SQLSTATEs pass through");
        assertEquals(203L, c.errorsByClass().values().stream().mapToLong(Long::longValue).sum(), "none lost");
    }

    @Test
    void refusalsAreCountedByReasonWithEveryReasonPresent() {
        ClientCounters c = new ClientCounters();
        c.refused(RefusalReason.MAX_CLIENTS);
        c.refused(RefusalReason.MAX_CLIENTS);
        c.refused(RefusalReason.UNKNOWN_DATABASE);
        assertEquals(2L, c.refusals().get(RefusalReason.MAX_CLIENTS));
        assertEquals(1L, c.refusals().get(RefusalReason.UNKNOWN_DATABASE));
        assertEquals(0L, c.refusals().get(RefusalReason.WAIT_TIMEOUT));
        assertEquals(RefusalReason.values().length, c.refusals().size());
    }
}
