package io.pgproxy.pool;

import io.pgproxy.backend.BackendException;
import io.pgproxy.config.HostAddress;

/**
 * Where a pool's new backend connections go: the database's one host, or its cluster's primary
 * as the failover package learns it. Defined here, implemented above, so pools follow a
 * failover without knowing how it is found.
 */
public interface PrimarySource {
    /**
     * The host new connections go to; waits, bounded, while the cluster has no primary.
     *
     * @throws BackendException 08001 when no primary became known in time
     */
    HostAddress primary() throws BackendException;

    /**
     * A connection to {@code host} failed before its login completed: the host may be gone. A
     * cluster looks again now rather than at its next check; a single host ignores it.
     *
     * @return whether another attempt may find a different or recovered primary
     */
    boolean connectFailed(HostAddress host);

    /** A connection to {@code host} opened: what least-connections counts. */
    default void opened(HostAddress host) {
    }

    /** A connection opened to {@code host} closed. */
    default void closed(HostAddress host) {
    }

    /**
     * Whether an idle connection to {@code host} may still be handed out: a standby that fell
     * behind or went down is left for new connections elsewhere.
     */
    default boolean serves(String host, int port) {
        return true;
    }

    /** The database's one host, never checked: what a database with a single host uses. */
    static PrimarySource fixed(HostAddress host) {
        return new PrimarySource() {
            @Override
            public HostAddress primary() {
                return host;
            }

            @Override
            public boolean connectFailed(HostAddress failed) {
                return false;
            }
        };
    }
}
