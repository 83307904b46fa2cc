/**
 * What the proxy tracks of each client's session so a backend can be brought to it: the
 * parameters the client asked for at startup and what it has been told, and the diff that
 * moves a backend to those values in one round trip; the pins that keep a client on its
 * backend; and the prepared statements: each client's names, the proxy-wide names of distinct
 * statements, and which of them each backend has prepared.
 */
package io.pgproxy.session;
