/**
 * The client side. One virtual thread per client runs its whole life as plain blocking code in
 * one try/finally ({@link io.pgproxy.client.ClientSession}, which owns the client's
 * {@link io.pgproxy.client.ClientState} and changes it only through its one transition
 * method): startup negotiation, login ({@link io.pgproxy.client.ClientLogin}: route,
 * authenticate by the hba rules of {@link io.pgproxy.client.AuthPolicy} against users from the
 * configuration or the auth query ({@link io.pgproxy.client.UserDirectory}), admit), then the relay loop ({@link io.pgproxy.client.RequestRelay}: requests
 * to the backend on the client's thread). {@link io.pgproxy.client.BackendLink} is the
 * session's side of its leases: it leases when a run needs a backend, receives the backend's
 * replies on the backend reader's thread, and carries out what the session tracker decides.
 * In transaction pooling the statement editor renames named prepared statements and prepares
 * them on whichever backend a request lands. Also the registry of live sessions that cancel
 * requests, the janitor, the admin console and the metrics read.
 */
package io.pgproxy.client;
