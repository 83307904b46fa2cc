/**
 * A connection from the proxy to a backend PostgreSQL, split by thread:
 * {@link io.pgproxy.backend.BackendConnector} opens it on the caller's thread (connect, TLS as the
 * database's sslmode says, startup, authentication as the backend asks and require-auth allows,
 * with the credentials the pool gives); {@link io.pgproxy.backend.BackendReader} is its reader
 * thread for its whole life (relays to the attached client, keeps the counters, tells the
 * lease when the backend settled); {@link io.pgproxy.backend.BackendConnection} is what others
 * see: one {@link io.pgproxy.backend.BackendState} changed through one method, one
 * {@link io.pgproxy.backend.BackendConnection.Readiness} answer to "may it be handed on",
 * sends, internal queries and cancel. Also the queue of replies it owes message by message when
 * a client's requests are edited (prepared statements in transaction pooling). Knows nothing of
 * pools: the lease it is under is a {@link io.pgproxy.backend.BackendLease}.
 */
package io.pgproxy.backend;
