/**
 * The running proxy: the listener with its client limit, the set of live sessions, the janitor
 * that enforces timeouts, configuration reload, and the drain on shutdown.
 */
package io.pgproxy.server;
