package io.pgproxy.tls;

import java.nio.file.Path;

/** A certificate, key or CA file that cannot be used; the message names the file and why. */
public final class TlsMaterialException extends Exception {
    private final transient Path path;

    public TlsMaterialException(Path path, String reason, Throwable cause) {
        super(path + ": " + reason, cause);
        this.path = path;
    }

    public Path path() {
        return path;
    }
}
