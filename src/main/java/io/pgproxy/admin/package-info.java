/**
 * The admin console: the virtual database {@code pgproxy} (alias {@code pgbouncer}) that admin
 * and stats users reach over the normal protocol with psql, pgjdbc or PgBouncer's tools. SHOW
 * commands answer with PgBouncer's columns, read from the states the client, backend and pool
 * layers own (never a second copy); PAUSE, RESUME, RECONNECT, KILL, RELOAD, SHUTDOWN and
 * WAIT_CLOSE act through the pools' gates and the callbacks Main gives.
 */
package io.pgproxy.admin;
