package io.pgproxy.config;

import java.io.Serial;
import java.util.Objects;

/**
 * A configuration problem, always reported as {@code "<key path>: <reason>"} so an operator can
 * fix the file from the message alone, without a stack trace.
 */
public final class ConfigException extends Exception {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String path;
    private final String reason;

    public ConfigException(String path, String reason) {
        super(Objects.requireNonNull(path, "path") + ": " + Objects.requireNonNull(reason, "reason"));
        this.path = path;
        this.reason = reason;
    }

    /** The HOCON key path (or the file name, for problems with the file itself). */
    public String path() {
        return path;
    }

    /** The message without the path prefix. */
    public String reason() {
        return reason;
    }

    // The message already says everything; a trace would only bury it in startup logs.
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
