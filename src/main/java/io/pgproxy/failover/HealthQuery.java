package io.pgproxy.failover;

import io.pgproxy.backend.BackendConnector;
import io.pgproxy.backend.BackendException;
import io.pgproxy.backend.BackendTarget;
import io.pgproxy.backend.ChannelWatchdog;
import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.Query;
import io.pgproxy.protocol.message.Terminate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;

/**
 * One health check: a connection of its own to the host, made as the pools make theirs (sslmode,
 * TLS, require-auth), {@code SELECT pg_is_in_recovery()} with the WAL position and whether
 * transactions are read-only by default, hang up. Login and query together are
 * bounded by the check timeout.
 */
final class HealthQuery {
    /** The answer is one boolean; anything near this size is not a health answer. */
    private static final int MAX_MESSAGE = 8 * 1024;
    /** A standby's replay position is NULL before it replayed anything: 0 then. */
    private static final String SQL = "SELECT pg_catalog.pg_is_in_recovery(), COALESCE(CASE WHEN pg_catalog.pg_is_in_recovery()"
            + " THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END - '0/0'::pg_lsn, 0)"
            + "::int8, pg_catalog.current_setting('default_transaction_read_only')::bool";

    private HealthQuery() {
    }

    static CheckResult run(BackendTarget target, Duration timeout) {
        ByteChannel channel;
        try {
            channel = BackendConnector.openStandalone(target, "health-check");
        } catch (BackendException e) {
            return new CheckResult.Failed(e.error().sqlState() + " " + e.error().message());
        }
        try (channel; ChannelWatchdog ignored = ChannelWatchdog.start(channel, timeout)) {
            return ask(channel);
        } catch (ClosedChannelException e) {
            return new CheckResult.Failed("no answer within " + timeout.toMillis() + " ms");
        } catch (IOException e) {
            return new CheckResult.Failed(e.getMessage());
        }
    }

    private static CheckResult ask(ByteChannel channel) throws IOException {
        write(channel, ByteBuffer.wrap(new Query(SQL).encode()));
        MessageReader reader = new MessageReader(channel);
        CheckResult.Answered answer = null;
        while (true) {
            Frame f = reader.read(MAX_MESSAGE);
            switch (f.tagChar()) {
                case 'D' -> answer = answer(f.body());
                case 'E' -> {
                    ErrorResponse e = ErrorResponse.decode(f.body());
                    return new CheckResult.Failed(e.sqlState() + " " + e.message());
                }
                case 'Z' -> {
                    write(channel, ByteBuffer.wrap(new Terminate().encode()));
                    if (answer == null) {
                        throw new ProtocolException("the health query returned no row");
                    }
                    return answer;
                }
                default -> {
                    // RowDescription, CommandComplete, notices.
                }
            }
        }
    }

    private static CheckResult.Answered answer(ByteBuffer row) throws ProtocolException {
        try {
            if (row.getShort() != 3) {
                throw new ProtocolException("the health query's row is not (boolean, position, boolean)");
            }
            boolean inRecovery = Wire.bytes(row, row.getInt())[0] == 't';
            int length = row.getInt();
            long position = Long.parseLong(new String(Wire.bytes(row, length), java.nio.charset.StandardCharsets.US_ASCII));
            boolean readOnly = Wire.bytes(row, row.getInt())[0] == 't';
            return new CheckResult.Answered(inRecovery, position, readOnly);
        } catch (java.nio.BufferUnderflowException | NumberFormatException | ArrayIndexOutOfBoundsException e) {
            throw new ProtocolException("malformed DataRow in the health query's answer");
        }
    }

    private static void write(ByteChannel channel, ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
    }
}
