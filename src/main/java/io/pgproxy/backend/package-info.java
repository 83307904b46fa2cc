/**
 * A connection from the proxy to a backend PostgreSQL: connect, startup, authentication as the
 * backend asks, its reader thread, internal queries and cancel; and the queue of replies it owes
 * message by message when a client's requests are edited (prepared statements in transaction
 * pooling), so injected replies are dropped and synthetic ones fall where they are due. Knows
 * nothing of pools.
 */
package io.pgproxy.backend;
