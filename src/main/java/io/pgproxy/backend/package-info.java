/**
 * A connection from the proxy to a backend PostgreSQL: connect, startup, authentication as the
 * backend asks, its reader thread, internal queries and cancel. Knows nothing of pools.
 */
package io.pgproxy.backend;
