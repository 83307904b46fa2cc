package io.pgproxy.pool;

import io.pgproxy.config.SessionIsolation;

import java.time.Duration;

/** The pool behaviour that a reload may change in place. */
public record PoolSettings(int maxSize, Duration waitTimeout, String resetQuery, Duration serverIdleTimeout,
                           Duration serverLifetime, Duration internalQueryTimeout, int minSize, int reserveSize,
                           Duration reserveTimeout, int maxPreparedStatements, SessionIsolation sessionIsolation,
                           boolean transactionReplay) {
}
