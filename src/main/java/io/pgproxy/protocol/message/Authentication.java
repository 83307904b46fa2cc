package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.Wire;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** The Authentication* family ('R'), told apart by the first int32 of the body. */
public sealed interface Authentication {
    int OK = 0;
    int CLEARTEXT_PASSWORD = 3;
    int MD5_PASSWORD = 5;
    int SASL = 10;
    int SASL_CONTINUE = 11;
    int SASL_FINAL = 12;

    byte[] encode();

    record Ok() implements Authentication {
        public byte[] encode() {
            return new MessageBuilder().begin((byte) 'R').int32(OK).end().toByteArray();
        }
    }

    record CleartextPassword() implements Authentication {
        public byte[] encode() {
            return new MessageBuilder().begin((byte) 'R').int32(CLEARTEXT_PASSWORD).end().toByteArray();
        }
    }

    record Md5Password(byte[] salt) implements Authentication {
        public byte[] encode() {
            return new MessageBuilder().begin((byte) 'R').int32(MD5_PASSWORD).bytes(salt).end().toByteArray();
        }
    }

    record Sasl(List<String> mechanisms) implements Authentication {
        public byte[] encode() {
            MessageBuilder b = new MessageBuilder().begin((byte) 'R').int32(SASL);
            mechanisms.forEach(b::cstring);
            return b.int8(0).end().toByteArray();
        }
    }

    record SaslContinue(byte[] data) implements Authentication {
        public byte[] encode() {
            return new MessageBuilder().begin((byte) 'R').int32(SASL_CONTINUE).bytes(data).end().toByteArray();
        }
    }

    record SaslFinal(byte[] data) implements Authentication {
        public byte[] encode() {
            return new MessageBuilder().begin((byte) 'R').int32(SASL_FINAL).bytes(data).end().toByteArray();
        }
    }

    /** A method the proxy does not speak to backends (Kerberos, GSS, SSPI). */
    record Unsupported(int code) implements Authentication {
        public byte[] encode() {
            return new MessageBuilder().begin((byte) 'R').int32(code).end().toByteArray();
        }
    }

    static Authentication decode(ByteBuffer body) throws ProtocolException {
        int code = Wire.int32(body);
        return switch (code) {
            case OK -> new Ok();
            case CLEARTEXT_PASSWORD -> new CleartextPassword();
            case MD5_PASSWORD -> new Md5Password(Wire.bytes(body, 4));
            case SASL -> {
                List<String> mechanisms = new ArrayList<>();
                for (String m = Wire.cstring(body); !m.isEmpty(); m = Wire.cstring(body)) {
                    if (mechanisms.size() >= 16) {
                        throw new ProtocolException("too many SASL mechanisms");
                    }
                    mechanisms.add(m);
                }
                yield new Sasl(List.copyOf(mechanisms));
            }
            case SASL_CONTINUE -> new SaslContinue(Wire.bytes(body, body.remaining()));
            case SASL_FINAL -> new SaslFinal(Wire.bytes(body, body.remaining()));
            default -> new Unsupported(code);
        };
    }
}
