package io.pgproxy.client;

import java.io.IOException;
import java.util.Map;

/**
 * A database the proxy answers itself instead of routing to a backend: the admin console. The
 * client layer cannot know the console (it sits above), so the server is given one of these and
 * a client session asking for a database it {@link #serves} is handed over after authentication.
 */
public interface VirtualDatabase {
    /** Whether a client asking for {@code database} is served here. */
    boolean serves(String database);

    /** The largest message a client of this database may send (its queries are short commands). */
    int maxMessageSize();

    /** The ParameterStatus values a client of this database is greeted with. */
    Map<String, String> parameters();

    /** Runs the authenticated client's session until it leaves; the caller closes the connection. */
    void run(ConsoleSession session) throws IOException;
}
