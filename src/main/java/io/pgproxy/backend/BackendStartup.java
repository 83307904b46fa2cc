package io.pgproxy.backend;

import io.pgproxy.auth.AuthException;
import io.pgproxy.auth.Md5Password;
import io.pgproxy.auth.ScramClientSession;
import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.BackendKeyData;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.ParameterStatus;
import io.pgproxy.protocol.message.PasswordMessage;
import io.pgproxy.protocol.message.SaslInitialResponse;
import io.pgproxy.protocol.message.SaslResponse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The startup handshake with a backend: StartupMessage, authentication in whichever method the
 * backend asks for, then ParameterStatus and BackendKeyData up to the first ReadyForQuery.
 * Everything the backend sends here is bounded: a hostile backend fails only this connection.
 */
final class BackendStartup {
    /** Generous for any message of this phase, small enough that a lying length costs little. */
    private static final int MAX_STARTUP_MESSAGE = 64 * 1024;

    record Result(Map<String, String> parameters, BackendKeyData keyData) {
    }

    private BackendStartup() {
    }

    static Result run(SocketChannel channel, BackendTarget target) throws IOException {
        Map<String, String> login = new LinkedHashMap<>();
        login.put("user", target.user());
        login.put("database", target.database());
        write(channel, new StartupPacket.StartupMessage(StartupPacket.PROTOCOL_3_0, login).encode());
        MessageReader reader = new MessageReader(channel);
        ScramClientSession scram = null;
        Map<String, String> parameters = new LinkedHashMap<>();
        BackendKeyData key = null;
        while (true) {
            Frame f = reader.read(MAX_STARTUP_MESSAGE);
            switch (f.tagChar()) {
                case 'R' -> scram = authenticate(channel, target, Authentication.decode(f.body()), scram);
                case 'S' -> {
                    ParameterStatus p = ParameterStatus.decode(f.body());
                    parameters.put(p.name(), p.value());
                }
                case 'K' -> key = BackendKeyData.decode(f.body());
                case 'E' -> throw new BackendException(ErrorResponse.decode(f.body()), null);
                case 'N', 'v' -> {
                    // Notices and protocol negotiation replies change nothing for 3.0.
                }
                case 'Z' -> {
                    if (key == null) {
                        throw new ProtocolException("backend sent no BackendKeyData");
                    }
                    return new Result(parameters, key);
                }
                default -> throw new ProtocolException("unexpected message '" + f.tagChar() + "' during backend startup");
            }
        }
    }

    private static ScramClientSession authenticate(SocketChannel channel, BackendTarget target,
                                                   Authentication request, ScramClientSession scram)
            throws IOException {
        try {
            switch (request) {
                case Authentication.Ok ok -> {
                    return null;
                }
                case Authentication.CleartextPassword c -> write(channel, new PasswordMessage(password(target)).encode());
                case Authentication.Md5Password md5 -> write(channel, new PasswordMessage(
                        Md5Password.response(Md5Password.hash(target.user(), password(target)), md5.salt())).encode());
                case Authentication.Sasl sasl -> {
                    if (!sasl.mechanisms().contains("SCRAM-SHA-256")) {
                        throw failed("backend offers no supported SASL mechanism " + sasl.mechanisms());
                    }
                    ScramClientSession s = new ScramClientSession(password(target), target.maxScramIterations());
                    write(channel, new SaslInitialResponse("SCRAM-SHA-256", s.clientFirstMessage()).encode());
                    return s;
                }
                case Authentication.SaslContinue cont -> {
                    requireScram(scram);
                    write(channel, new SaslResponse(scram.serverFirst(cont.data())).encode());
                }
                case Authentication.SaslFinal fin -> {
                    requireScram(scram);
                    scram.serverFinal(fin.data());
                }
                case Authentication.Unsupported u -> throw failed("backend asks for unsupported authentication method " + u.code());
            }
            return scram;
        } catch (AuthException e) {
            throw new BackendException(ErrorResponse.error(e.sqlState(),
                    "backend authentication failed: " + e.getMessage()), e);
        }
    }

    private static void requireScram(ScramClientSession scram) throws ProtocolException {
        if (scram == null) {
            throw new ProtocolException("backend sent a SASL message out of order");
        }
    }

    private static String password(BackendTarget target) throws BackendException {
        if (target.password() == null) {
            throw failed("backend asks for a password but none is configured for " + target);
        }
        return target.password();
    }

    private static BackendException failed(String message) {
        return new BackendException(ErrorResponse.error("08001", message), null);
    }

    private static void write(SocketChannel channel, byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }
}
