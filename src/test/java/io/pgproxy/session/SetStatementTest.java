package io.pgproxy.session;

import io.pgproxy.protocol.Wire;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SetStatementTest {
    @Test
    void recognisesPlainAssignments() {
        assertEquals(new SetStatement.Assignment("extra_float_digits", "3"), SetStatement.parse("SET extra_float_digits = 3"));
        assertEquals(new SetStatement.Assignment("work_mem", "7MB"), SetStatement.parse("set work_mem to '7MB';"));
        assertEquals(new SetStatement.Assignment("application_name", "my app"),
                SetStatement.parse("  SET SESSION application_name = 'my app'  "));
        assertEquals(new SetStatement.Assignment("myapp.tenant", "42"), SetStatement.parse("SET myapp.tenant = 42"));
    }

    @Test
    void recognisesResets() {
        assertEquals(new SetStatement.Reset("work_mem"), SetStatement.parseReset("RESET work_mem"));
        assertEquals(new SetStatement.Reset("myapp.tenant"), SetStatement.parseReset("  reset MyApp.Tenant;"));
        assertTrue(SetStatement.parseReset("RESET ALL").all());
        assertNull(SetStatement.parseReset("RESET ROLE"));
        assertNull(SetStatement.parseReset("RESET SESSION AUTHORIZATION"));
        assertNull(SetStatement.parseReset("RESET work_mem; SET work_mem = 1"));
        assertNull(SetStatement.parseReset("SELECT 'RESET ALL'"));
    }

    @Test
    void leavesEverythingElseAlone() {
        assertNull(SetStatement.parse("SET LOCAL work_mem = '1MB'"));
        assertNull(SetStatement.parse("SET search_path = a, b"));
        assertNull(SetStatement.parse("SET ROLE admin"));
        assertNull(SetStatement.parse("SET TIME ZONE 'UTC'"));
        assertNull(SetStatement.parse("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
        assertNull(SetStatement.parse("SET work_mem = DEFAULT"));
        assertNull(SetStatement.parse("SET a = 1; SET b = 2"));
        assertNull(SetStatement.parse("SET x = 'it''s'"));
        assertNull(SetStatement.parse("SELECT 1"));
    }

    @Test
    void readsTheTextOfAQueryBodyUpToItsTerminator() throws Exception {
        byte[] q = "SET extra_float_digits = 3\0".getBytes(StandardCharsets.UTF_8);
        assertEquals("3", SetStatement.parse(Wire.cstring(ByteBuffer.wrap(q), 0, q.length)).value());
    }

    @Test
    void classifiesEveryStatementThatStartsWithSet() {
        assertEquals(new SetStatement.Assignment("work_mem", "7MB"), SetStatement.classify("SET work_mem = '7MB'", true));
        assertEquals(new SetStatement.Local(), SetStatement.classify("SET LOCAL work_mem = '1MB'", true));
        assertEquals(new SetStatement.Local(), SetStatement.classify("set transaction isolation level serializable", true));
        assertEquals(new SetStatement.Unrecognised(), SetStatement.classify("SET LOCAL work_mem = 1; SET a = 2", true));
        assertEquals(new SetStatement.Unrecognised(), SetStatement.classify("SET ROLE admin", true));
        assertEquals(new SetStatement.Unrecognised(), SetStatement.classify("SET work_mem = '7MB'", false));
        assertNull(SetStatement.classify("SELECT 1", true));
        assertNull(SetStatement.classify("SETTINGS", true));
    }

    @Test
    void valuesAreTakenAsTheParserTakesThem() {
        assertEquals("myschema", SetStatement.parse("SET search_path = MySchema").value());
        assertEquals("MySchema", SetStatement.parse("SET search_path = 'MySchema'").value());
        // One quoted element of a list parameter, which set_config would split in two.
        assertNull(SetStatement.parse("SET search_path = '\"$user\", public'"));
        assertNull(SetStatement.parse("SET search_path = 'a, b'"));
    }
}
