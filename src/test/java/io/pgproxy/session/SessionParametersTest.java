package io.pgproxy.session;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
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
    void greetingOverlaysTheClientsValuesCaseInsensitivelyAsPostgresReportsThem() {
        // asyncpg sends client_encoding='utf-8', quotes included; PostgreSQL reports UTF8.
        SessionParameters p = new SessionParameters(Map.of("datestyle", "ISO", "client_encoding", "'utf-8'"));
        Map<String, String> g = p.greeting(BACKEND);
        assertEquals("ISO, MDY", g.get("DateStyle"));
        assertEquals("UTF8", g.get("client_encoding"));
        assertEquals("UTC", g.get("TimeZone"));
    }

    @Test
    void reportedParametersAreReplayedInTheServersWordsNotTheClientsSet() {
        SessionParameters p = new SessionParameters(Map.of());
        p.greeting(BACKEND);
        // SET datestyle TO dmy: the SET's text is not what follows the client, the report is.
        p.track("datestyle", "dmy");
        p.observe("DateStyle", "ISO, DMY");
        Map<String, String> postgresStyle = new java.util.HashMap<>(BACKEND);
        postgresStyle.put("DateStyle", "Postgres, MDY");
        assertEquals(Map.of("DateStyle", "ISO, DMY"), p.diff(postgresStyle));
        assertEquals(Map.of(), p.requested());
    }

    @Test
    void aSetThatChangedNothingReportedKeepsWhatTheClientWasTold() {
        SessionParameters p = new SessionParameters(Map.of());
        p.greeting(BACKEND);
        p.track("DateStyle", "mdy"); // no ParameterStatus: the value was already ISO, MDY
        Map<String, String> other = new java.util.HashMap<>(BACKEND);
        other.put("DateStyle", "German, DMY");
        assertEquals(Map.of("DateStyle", "ISO, MDY"), p.diff(other));
    }

    @Test
    void identityChangedComparesWithHowTheClientLoggedIn() {
        Map<String, String> backend = new java.util.HashMap<>(BACKEND);
        backend.put("session_authorization", "admin");
        backend.put("is_superuser", "on");
        SessionParameters p = new SessionParameters(Map.of());
        p.greeting(backend);
        assertFalse(p.identityChanged());
        p.observe("application_name", "x");
        assertFalse(p.identityChanged());
        p.observe("session_authorization", "app");
        assertTrue(p.identityChanged());
        // Never replayed: identity is pinned, not carried.
        assertFalse(p.diff(backend).containsKey("session_authorization"));
        p.observe("session_authorization", "admin");
        assertFalse(p.identityChanged());
        p.observe("is_superuser", "off"); // SET ROLE to an ordinary role
        assertTrue(p.identityChanged());
    }

    @Test
    void diffHoldsOnlyWhatDiffersOrIsUnreported() {
        SessionParameters p = new SessionParameters(Map.of("client_encoding", "UTF8", "TimeZone", "Europe/Berlin",
                "extra_float_digits", "3"));
        p.greeting(BACKEND);
        Map<String, String> d = p.diff(BACKEND);
        assertEquals(Map.of("TimeZone", "Europe/Berlin", "extra_float_digits", "3"), d);
    }

    @Test
    void correctionsReportOnlyChangedValuesOnce() {
        // A time zone's canonical spelling is the server's to know: the greeting keeps the
        // client's, the first backend reports the real one.
        SessionParameters p = new SessionParameters(Map.of("TimeZone", "utc"));
        p.greeting(BACKEND);
        Map<String, String> after = Map.of("client_encoding", "UTF8", "DateStyle", "ISO, MDY", "TimeZone", "UTC",
                "application_name", "");
        assertEquals(Map.of("TimeZone", "UTC"), p.corrections(after));
        assertTrue(p.corrections(after).isEmpty());
    }

    @Test
    void setBatchIsOneSimpleQuery() {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("TimeZone", "UTC");
        values.put("work_mem", null);
        ByteBuffer b = SessionParameters.setBatch(values, true);
        assertEquals('Q', b.get());
        int len = b.getInt();
        assertEquals(b.remaining() + 4, len, "one message");
        String sql = new String(b.array(), 5, len - 5, java.nio.charset.StandardCharsets.UTF_8);
        assertEquals("SET SESSION AUTHORIZATION DEFAULT; RESET ALL; SELECT pg_catalog.set_config($p$TimeZone$p$, "
                + "$p$UTC$p$, false), pg_catalog.set_config($p$work_mem$p$, NULL, false)", sql);
    }

    @Test
    void literalsAreDollarQuotedWithATagTheValueCannotEnd() {
        assertEquals("$p$it's \\ fine$p$", SessionParameters.literal("it's \\ fine"));
        assertEquals("$p0$a$p$b$p0$", SessionParameters.literal("a$p$b"));
        // "x$p" + "$p$" would read as "x" then "p$": another tag.
        assertEquals("$p0$x$p$p0$", SessionParameters.literal("x$p"));
        assertEquals("$p$$p$", SessionParameters.literal(""));
    }
}
