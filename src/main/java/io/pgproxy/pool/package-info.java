/**
 * The lease manager: pools of backend connections per route (database, backend user), handed
 * out to clients, waited for in FIFO order with a timeout, cleaned before reuse and retired when
 * the configuration drops them. Pools never parse frames.
 */
package io.pgproxy.pool;
