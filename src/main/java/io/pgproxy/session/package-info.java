/**
 * What the proxy follows of each client's session so a backend can be brought to it, without
 * parsing SQL. {@link io.pgproxy.session.SessionTracker} answers each protocol event (a run
 * sent, CommandComplete, ParameterStatus, ReadyForQuery) with a decision the client carries
 * out (pin, unpin, refuse a block, forget the backend's state) and plans the one hidden round
 * trip that brings a backend to the session; it touches no socket, so literal message sequences
 * test it. {@link io.pgproxy.session.BackendSession} is what is assumed of one backend's session.
 * Also the parameters a client asked for and was told, the SETs and RESETs waiting for their
 * transaction's end, the pins, and the prepared statements: each client's names, the
 * proxy-wide names of distinct statements, and which of them each backend has prepared.
 */
package io.pgproxy.session;
