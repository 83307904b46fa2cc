package io.pgproxy.auth;

import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * {@code bin/pgproxy passwd USER [--md5] [--iterations N]}: prints a verifier for
 * {@code users.USER.password}. {@code args} are the words after {@code passwd}. The password comes
 * from the terminal without echo, or from one line of {@code in} when there is no terminal, so that
 * it never appears on a command line or in shell history.
 */
public final class PasswordCommand {

    static final int DEFAULT_ITERATIONS = 4096;
    // Beyond this every login would take seconds; almost certainly a typo.
    static final int MAX_ITERATIONS = 10_000_000;
    private static final int MAX_PASSWORD_BYTES = 1024;
    private static final int OK = 0;
    private static final int FAILED = 1;
    private static final int USAGE = 2;
    private static final String USAGE_TEXT = "usage: pgproxy passwd USER [--md5] [--iterations N]";

    private PasswordCommand() {
    }

    /** Parsed command line. */
    record Options(String user, boolean md5, int iterations) {
    }

    public static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
        Options options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            err.println("pgproxy passwd: " + e.getMessage());
            err.println(USAGE_TEXT);
            return USAGE;
        }
        if (options == null) {
            out.println(USAGE_TEXT);
            return OK;
        }
        String password;
        try {
            password = readPassword(in, err);
        } catch (IOException e) {
            err.println("pgproxy passwd: cannot read the password: " + e.getMessage());
            return FAILED;
        }
        if (password == null) {
            return FAILED;
        }
        out.println(options.md5()
                ? Md5Password.hash(options.user(), password)
                : ScramVerifier.fromPassword(password, options.iterations()).encode());
        return OK;
    }

    /** @return null when help was asked for */
    static Options parse(String[] args) {
        String user = null;
        boolean md5 = false;
        Integer iterations = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("-h") || arg.equals("--help")) {
                return null;
            } else if (arg.equals("--md5")) {
                md5 = true;
            } else if (arg.equals("--iterations") || arg.startsWith("--iterations=")) {
                String value = arg.contains("=") ? arg.substring(arg.indexOf('=') + 1)
                        : (i + 1 < args.length ? args[++i] : null);
                iterations = parseIterations(value);
            } else if (arg.startsWith("-")) {
                throw new IllegalArgumentException("unknown option " + arg);
            } else if (user == null) {
                user = arg;
            } else {
                throw new IllegalArgumentException("only one USER may be given");
            }
        }
        if (user == null || user.isEmpty()) {
            throw new IllegalArgumentException("USER is required");
        }
        if (md5 && iterations != null) {
            throw new IllegalArgumentException("--iterations applies to SCRAM, not --md5");
        }
        return new Options(user, md5, iterations == null ? DEFAULT_ITERATIONS : iterations);
    }

    private static int parseIterations(String value) {
        if (value == null || value.isEmpty() || value.length() > 9 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("--iterations needs a number from 1 to " + MAX_ITERATIONS);
        }
        int n = Integer.parseInt(value);
        if (n < 1 || n > MAX_ITERATIONS) {
            throw new IllegalArgumentException("--iterations needs a number from 1 to " + MAX_ITERATIONS);
        }
        return n;
    }

    /** @return the password, or null after telling the user why there is none */
    private static String readPassword(InputStream in, PrintStream err) throws IOException {
        Console console = System.console();
        // Only System.in can be the terminal; any other stream (tests, embedding) is read as a line.
        if (in == System.in && console != null && console.isTerminal()) {
            return readFromConsole(console, err);
        }
        String line = readLine(in);
        if (line == null) {
            err.println("pgproxy passwd: no password on standard input");
            return null;
        }
        if (line.isEmpty()) {
            err.println("pgproxy passwd: empty password");
            return null;
        }
        return line;
    }

    private static String readFromConsole(Console console, PrintStream err) {
        char[] first = console.readPassword("Password: ");
        char[] second = console.readPassword("Repeat password: ");
        try {
            if (first == null || second == null || first.length == 0) {
                err.println("pgproxy passwd: empty password");
                return null;
            }
            if (!Arrays.equals(first, second)) {
                err.println("pgproxy passwd: passwords do not match");
                return null;
            }
            return new String(first);
        } finally {
            if (first != null) {
                Arrays.fill(first, '\0');
            }
            if (second != null) {
                Arrays.fill(second, '\0');
            }
        }
    }

    /** One line without its terminator; null at end of input. Reads byte by byte so nothing past the line is consumed. */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        int b;
        boolean any = false;
        while ((b = in.read()) != -1 && b != '\n') {
            any = true;
            if (buffer.size() >= MAX_PASSWORD_BYTES) {
                throw new IOException("password longer than " + MAX_PASSWORD_BYTES + " bytes");
            }
            buffer.write(b);
        }
        if (!any && b == -1) {
            return null;
        }
        String line = buffer.toString(StandardCharsets.UTF_8);
        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
    }
}
