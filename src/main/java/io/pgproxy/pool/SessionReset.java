package io.pgproxy.pool;

import io.pgproxy.backend.BackendConnection;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.TransactionStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * Makes a backend a session-mode client gave back fit for the next one: rolls back an open
 * transaction, runs the reset query, and drops the proxy's prepared statements when the reset
 * query did not. Any failure means the backend is closed instead of kept.
 */
final class SessionReset {
    private static final Logger log = LoggerFactory.getLogger(SessionReset.class);

    private SessionReset() {
    }

    /** True when the backend is reset and may be kept; false when it must be closed. */
    static boolean run(BackendConnection c, PoolSettings s) throws IOException {
        boolean discardAll = s.resetQuery().trim().equalsIgnoreCase("DISCARD ALL");
        if (c.status() != TransactionStatus.IDLE && !ran(c, "ROLLBACK", s, "rollback before reuse")) {
            return false;
        }
        if (!s.resetQuery().isEmpty() && !ran(c, s.resetQuery(), s, "reset query")) {
            return false;
        }
        // The proxy's statements must not outlive a session-mode lease whose client could have
        // closed some of them: the next client would trust a stale list.
        if (c.statements().size() > 0 && !discardAll && !ran(c, "DEALLOCATE ALL", s, "DEALLOCATE ALL")) {
            return false;
        }
        c.statements().clear();
        // DISCARD ALL takes the backend back to how it logged in; another reset query may not.
        c.session().reset(discardAll);
        return true;
    }

    private static boolean ran(BackendConnection c, String sql, PoolSettings s, String what) throws IOException {
        ErrorResponse e = c.runInternal(sql, s.internalQueryTimeout());
        if (e != null) {
            log.info("{} {} failed: {} {}", c.id(), what, e.sqlState(), e.message());
            return false;
        }
        return true;
    }
}
