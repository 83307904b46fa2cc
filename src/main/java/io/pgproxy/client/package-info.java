/**
 * The client side: one virtual thread per client runs startup, authentication, routing and
 * the relay loop as plain blocking code in one try/finally; in transaction pooling its
 * statement editor renames named prepared statements and prepares them on whichever backend a
 * request lands. Also the registry of live sessions that cancel requests, the janitor and
 * shutdown use.
 */
package io.pgproxy.client;
