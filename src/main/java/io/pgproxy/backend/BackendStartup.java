package io.pgproxy.backend;

import io.pgproxy.protocol.Frame;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket;
import io.pgproxy.protocol.message.Authentication;
import io.pgproxy.protocol.message.BackendKeyData;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.ParameterStatus;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The startup handshake with a backend, on a socket already plaintext or TLS: StartupMessage,
 * authentication in whichever method the backend asks for ({@link BackendAuthenticator}), then
 * ParameterStatus and BackendKeyData up to the first ReadyForQuery. Everything the backend sends
 * here is bounded: a hostile backend fails only this connection.
 */
final class BackendStartup {

    record Result(Map<String, String> parameters, BackendKeyData keyData) {
    }

    private BackendStartup() {
    }

    static Result run(BackendSocket channel, BackendTarget target) throws IOException {
        Map<String, String> login = new LinkedHashMap<>();
        login.put("user", target.user());
        login.put("database", target.database());
        ByteBuffer startup = ByteBuffer.wrap(new StartupPacket.StartupMessage(StartupPacket.PROTOCOL_3_0, login).encode());
        while (startup.hasRemaining()) {
            channel.write(startup);
        }
        MessageReader reader = new MessageReader(channel);
        BackendAuthenticator auth = new BackendAuthenticator(target, channel);
        boolean authenticated = false;
        Map<String, String> parameters = new LinkedHashMap<>();
        BackendKeyData key = null;
        while (true) {
            Frame f = reader.read(target.limits().maxMessageSize());
            switch (f.tagChar()) {
                case 'R' -> {
                    if (authenticated) {
                        throw new ProtocolException("backend sent an authentication request after AuthenticationOk");
                    }
                    authenticated = auth.answer(Authentication.decode(f.body()));
                }
                case 'S' -> {
                    ParameterStatus p = ParameterStatus.decode(f.body());
                    parameters.put(p.name(), p.value());
                }
                case 'K' -> key = BackendKeyData.decode(f.body());
                case 'E' -> throw new BackendException(ErrorResponse.decode(f.body()), null, !authenticated);
                case 'N', 'v' -> {
                    // Notices and protocol negotiation replies change nothing for 3.0.
                }
                case 'Z' -> {
                    if (key == null || !authenticated) {
                        throw new ProtocolException("backend sent ReadyForQuery before AuthenticationOk and BackendKeyData");
                    }
                    return new Result(parameters, key);
                }
                default -> throw new ProtocolException("unexpected message '" + f.tagChar() + "' during backend startup");
            }
        }
    }
}
