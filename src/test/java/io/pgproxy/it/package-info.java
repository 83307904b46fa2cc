/**
 * Integration tests ({@code *IT}, run by failsafe in {@code verify}): a real PostgreSQL from
 * {@link io.pgproxy.fixtures.PostgresFixture}, real clients (pgjdbc, raw sockets, psql, pgbench), the proxy
 * in-process or as {@code bin/pgproxy}. No mocks, no sleeps: waits are on conditions (Awaitility, socket
 * timeouts, {@code Process.waitFor}).
 */
package io.pgproxy.it;
