package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;

import java.nio.ByteBuffer;

/** PasswordMessage ('p'): a cleartext or md5 password. Its text is a secret: never logged. */
public record PasswordMessage(String password) {
    public static PasswordMessage decode(ByteBuffer body) throws ProtocolException {
        String p = Wire.cstring(body);
        if (body.hasRemaining()) {
            throw new ProtocolException("invalid password packet size");
        }
        return new PasswordMessage(p);
    }

    public byte[] encode() {
        return new MessageBuilder().begin((byte) 'p').cstring(password).end().toByteArray();
    }

    @Override
    public String toString() {
        return "PasswordMessage[***]";
    }
}
