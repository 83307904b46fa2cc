package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Bind ('B') of the unnamed portal with text parameters (a null element is SQL NULL) and text
 * results, as the proxy's own hidden batches send it.
 */
public record Bind(String statement, List<String> parameters) {
    public void encodeTo(MessageBuilder b) {
        b.begin((byte) 'B').cstring("").cstring(statement).int16(0).int16(parameters.size());
        for (String p : parameters) {
            if (p == null) {
                b.int32(-1);
            } else {
                byte[] v = p.getBytes(StandardCharsets.UTF_8);
                b.int32(v.length).bytes(v);
            }
        }
        b.int16(0).end();
    }

    /** Bind with these parameters, nulls allowed. */
    public static Bind of(String statement, String... parameters) {
        return new Bind(statement, Arrays.asList(parameters));
    }
}
