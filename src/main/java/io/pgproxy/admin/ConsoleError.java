package io.pgproxy.admin;

/** A console command refused or failed: sent as an ErrorResponse, and the session goes on. */
final class ConsoleError extends Exception {
    private final String sqlState;

    ConsoleError(String sqlState, String message) {
        super(message, null, false, false);
        this.sqlState = sqlState;
    }

    String sqlState() {
        return sqlState;
    }

    static ConsoleError adminOnly() {
        return new ConsoleError("42501", "admin access needed");
    }

    static ConsoleError noSuchDatabase(String name) {
        return new ConsoleError("3D000", "no such database: " + name);
    }
}
