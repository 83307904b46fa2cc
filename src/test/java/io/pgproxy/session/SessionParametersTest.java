package io.pgproxy.session;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SessionParametersTest {
    private static final Map<String, String> BACKEND = Map.of("client_encoding", "UTF8", "DateStyle", "ISO, MDY",
            "TimeZone", "UTC", "application_name", "");

    @Test
    void startupKeysThatAreNotParametersAreIgnored() {
        SessionParameters p = new SessionParameters(Map.of("user", "u", "database", "d", "application_name", "app",
                "_pq_.x", "1"));
        assertEquals(Map.of("application_name", "app"), p.requested());
    }

    @Test
    void resetOfOneParameterGoesBackToItsStartupValueOrDefault() {
        SessionParameters p = new SessionParameters(Map.of("application_name", "app"));
        p.track("work_mem", "7MB");
        p.track("application_name", "other");
        p.reset("WORK_MEM");
        p.reset("application_name");
        assertEquals(Map.of("application_name", "app"), p.requested());
    }

    @Test
    void discardAllForgetsWhatTheClientSetButNotItsStartupValues() {
        SessionParameters p = new SessionParameters(Map.of("application_name", "app", "TimeZone", "UTC"));
        p.track("work_mem", "7MB");
        p.observe("TimeZone", "Europe/Berlin");
        p.resetAll();
        assertEquals(Map.of("application_name", "app", "TimeZone", "UTC"), p.requested());
        // The backend's reports after DISCARD ALL still count.
        p.observe("application_name", "app");
        assertEquals("app", p.requested().get("application_name"));
    }

    @Test
    void greetingOverlaysTheClientsValuesCaseInsensitively() {
        SessionParameters p = new SessionParameters(Map.of("datestyle", "ISO", "client_encoding", "utf-8"));
        Map<String, String> g = p.greeting(BACKEND);
        assertEquals("ISO", g.get("DateStyle"));
        assertEquals("UTF8", g.get("client_encoding"));
        assertEquals("UTC", g.get("TimeZone"));
    }

    @Test
    void diffHoldsOnlyWhatDiffersOrIsUnreported() {
        SessionParameters p = new SessionParameters(Map.of("client_encoding", "UTF8", "TimeZone", "Europe/Berlin",
                "extra_float_digits", "3"));
        Map<String, String> d = p.diff(BACKEND);
        assertEquals(Map.of("TimeZone", "Europe/Berlin", "extra_float_digits", "3"), d);
    }

    @Test
    void correctionsReportOnlyChangedValuesOnce() {
        SessionParameters p = new SessionParameters(Map.of("DateStyle", "ISO"));
        p.greeting(BACKEND);
        Map<String, String> after = Map.of("client_encoding", "UTF8", "DateStyle", "ISO, MDY", "TimeZone", "UTC",
                "application_name", "");
        assertEquals(Map.of("DateStyle", "ISO, MDY"), p.corrections(after));
        assertTrue(p.corrections(after).isEmpty());
    }

    @Test
    void setBatchIsOneParseManyBindExecuteAndOneSync() {
        ByteBuffer b = SessionParameters.setBatch(Map.of("TimeZone", "UTC"));
        StringBuilder tags = new StringBuilder();
        while (b.hasRemaining()) {
            tags.append((char) b.get());
            int len = b.getInt();
            b.position(b.position() + len - 4);
        }
        assertEquals("PBES", tags.toString());
        assertFalse(b.hasRemaining());
    }
}
