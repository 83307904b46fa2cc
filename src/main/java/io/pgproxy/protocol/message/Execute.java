package io.pgproxy.protocol.message;

import io.pgproxy.protocol.MessageBuilder;

/** Execute ('E') of a portal, all rows (maxRows 0 means no limit). */
public record Execute(String portal, int maxRows) {
    public void encodeTo(MessageBuilder b) {
        b.begin((byte) 'E').cstring(portal).int32(maxRows).end();
    }
}
