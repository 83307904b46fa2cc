/**
 * The lease manager: pools of backend connections per route (database, backend user). A pool
 * hands out a {@link io.pgproxy.pool.Lease} (backend, permit and the client it serves, with one
 * method per transition); the lease, not the client, decides at each settle whether its backend
 * goes back. Waiters are served first come, first served with a timeout
 * ({@link io.pgproxy.pool.PoolPermits}); session-mode backends are reset before reuse
 * ({@link io.pgproxy.pool.SessionReset}); pools the configuration drops are retired. Each pool
 * keeps its own {@link io.pgproxy.pool.PoolStats}, the figures the admin console, the metrics
 * and the stats log read. Pools never parse frames.
 */
package io.pgproxy.pool;
