package io.pgproxy.client;

import io.pgproxy.auth.Md5Password;
import io.pgproxy.backend.BackendConnector;
import io.pgproxy.backend.BackendException;
import io.pgproxy.backend.BackendTarget;
import io.pgproxy.backend.ChannelWatchdog;
import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.AuthQueryConfig;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.UserConfig;
import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;
import io.pgproxy.protocol.message.Bind;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.Execute;
import io.pgproxy.protocol.message.Parse;
import io.pgproxy.protocol.message.Sync;
import io.pgproxy.protocol.message.Terminate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * One run of the auth query (PgBouncer's auth_user/auth_query) on its own short connection to the
 * backend, made as the pools make theirs (sslmode, TLS, require-auth): log in as the auth user, look the user up with {@code $1} bound as a parameter (never
 * spliced into the SQL), hang up. The StartupMessage carries user and database and nothing else:
 * no client's startup parameters (search_path, options) can change what the query reads
 * (CVE-2025-12819). The answer becomes the same {@link UserConfig} a configured user has.
 */
final class AuthQuery {
    /** Generous for a lookup's messages (a verifier is ~130 bytes), small enough that a lying length costs little. */
    private static final int MAX_MESSAGE = 64 * 1024;
    private static final String SCRAM_PREFIX = "SCRAM-SHA-256$";

    private AuthQuery() {
    }

    /**
     * Looks {@code user} up through a connection logged in as the auth user to {@code target}
     * (the database's backend with its sslmode and require-auth), the query's answer bounded
     * by {@code timeout} as the login is.
     *
     * @throws IOException the lookup could not run; the message names the backend, never a secret
     */
    static UserLookup run(BackendTarget target, AuthQueryConfig q, DatabaseConfig db, String user, Duration timeout)
            throws IOException {
        ByteChannel channel;
        try {
            channel = BackendConnector.openStandalone(target, "auth-query");
        } catch (BackendException e) {
            throw new IOException("auth user \"" + q.authUser() + "\" could not log in to " + where(db) + ": "
                    + e.error().message());
        }
        try (channel; ChannelWatchdog ignored = ChannelWatchdog.start(channel, timeout)) {
            return lookUp(channel, q, db, user);
        } catch (java.nio.channels.ClosedChannelException e) {
            throw new IOException("no answer from " + where(db) + " within " + timeout.toMillis() + " ms");
        }
    }

    private static UserLookup lookUp(ByteChannel channel, AuthQueryConfig q, DatabaseConfig db, String user)
            throws IOException {
        MessageReader reader = new MessageReader(channel);
        MessageBuilder b = new MessageBuilder();
        new Parse("", q.query()).encodeTo(b);
        Bind.of("", user).encodeTo(b);
        // Two rows at most: enough to tell an ambiguous answer, without letting a bad query stream a table.
        new Execute("", 2).encodeTo(b);
        new Sync().encodeTo(b);
        write(channel, b.toByteArray());
        UserLookup answer = new UserLookup.Unknown(user);
        int rows = 0;
        while (true) {
            Frame f = reader.read(MAX_MESSAGE);
            switch (f.tagChar()) {
                case 'D' -> {
                    rows++;
                    try {
                        answer = user(user, f.body());
                    } catch (java.nio.BufferUnderflowException e) {
                        throw new ProtocolException("malformed DataRow in the auth query's answer");
                    }
                }
                case 'E' -> {
                    ErrorResponse e = ErrorResponse.decode(f.body());
                    throw new IOException("auth query failed on " + where(db) + ": " + e.sqlState() + " " + e.message());
                }
                case 'Z' -> {
                    write(channel, new Terminate().encode());
                    if (rows > 1) {
                        throw new IOException("auth query returned more than one row for a user");
                    }
                    return answer;
                }
                default -> {
                    // ParseComplete, BindComplete, CommandComplete, PortalSuspended, notices.
                }
            }
        }
    }

    /** A row (name, secret): the secret's form gives the method, as for a configured user. */
    private static UserLookup user(String user, ByteBuffer row) throws ProtocolException {
        int columns = row.getShort();
        if (columns < 2) {
            throw new ProtocolException("auth query must return two columns (name, secret), returned " + columns);
        }
        skip(row);
        int length = row.getInt();
        if (length < 0) {
            return new UserLookup.WithoutSecret(user);
        }
        String secret = new String(Wire.bytes(row, length), StandardCharsets.UTF_8);
        if (secret.startsWith(SCRAM_PREFIX)) {
            try {
                ScramVerifier.parse(secret);
            } catch (IllegalArgumentException e) {
                return new UserLookup.WithoutSecret(user);
            }
            return new UserLookup.Known(new UserConfig(user, AuthMethod.SCRAM_SHA_256, secret));
        }
        if (Md5Password.isMd5Hash(secret)) {
            return new UserLookup.Known(new UserConfig(user, AuthMethod.MD5, secret));
        }
        // Anything else would be a cleartext password, which pgproxy does not accept as a secret.
        return new UserLookup.WithoutSecret(user);
    }

    private static void skip(ByteBuffer row) throws ProtocolException {
        int length = row.getInt();
        if (length > 0) {
            Wire.bytes(row, length);
        }
    }

    private static String where(DatabaseConfig db) {
        return db.host() + ":" + db.port() + "/" + db.dbname();
    }

    private static void write(ByteChannel channel, byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }
}
