package io.pgproxy.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PasswordCommandTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String stdin, String... args) {
        return PasswordCommand.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void printsAParseableScramVerifierByDefault() throws AuthException {
        assertEquals(0, run("hunter2\n", "alice"));
        String line = stdout().strip();
        ScramVerifier v = ScramVerifier.parse(line);
        assertEquals(4096, v.iterations());
        ScramServerSession server = new ScramServerSession(v);
        ScramClientSession client = new ScramClientSession("hunter2", 4096);
        byte[] fin = server.clientFinal(client.serverFirst(server.clientFirst(client.clientFirstMessage())));
        client.serverFinal(fin);
        assertFalse(err.toString(StandardCharsets.UTF_8).contains("hunter2"));
    }

    @Test
    void honoursIterations() {
        assertEquals(0, run("pw\r\n", "alice", "--iterations", "10"));
        assertEquals(10, ScramVerifier.parse(stdout().strip()).iterations());
    }

    @Test
    void honoursIterationsWithEquals() {
        assertEquals(0, run("pw", "--iterations=7", "alice"));
        assertEquals(7, ScramVerifier.parse(stdout().strip()).iterations());
    }

    @Test
    void md5Mode() {
        assertEquals(0, run("postgres\n", "postgres", "--md5"));
        assertEquals("md53175bce1d3201d16594cebf9d7eb3f9d", stdout().strip());
    }

    @Test
    void usageErrorsReturn2() {
        assertEquals(2, run("pw\n"));
        assertEquals(2, run("pw\n", "alice", "bob"));
        assertEquals(2, run("pw\n", "alice", "--bogus"));
        assertEquals(2, run("pw\n", "alice", "--iterations"));
        assertEquals(2, run("pw\n", "alice", "--iterations", "0"));
        assertEquals(2, run("pw\n", "alice", "--iterations", "abc"));
        assertEquals(2, run("pw\n", "alice", "--md5", "--iterations", "10"));
        assertEquals("", stdout());
    }

    @Test
    void helpReturns0() {
        assertEquals(0, run("", "--help"));
        assertTrue(stdout().contains("usage"));
    }

    @Test
    void missingOrEmptyPasswordFails() {
        assertEquals(1, run("", "alice"));
        assertEquals(1, run("\n", "alice"));
        assertEquals("", stdout());
    }
}
