package io.pgproxy.pool;

import java.io.IOException;

/** No backend became free within the wait timeout (SQLSTATE 53300), or the pool was retired. */
public final class PoolExhaustedException extends IOException {
    public PoolExhaustedException(String message) {
        super(message);
    }
}
