/**
 * Immutable records for the few messages the proxy interprets, each with {@code decode} from a
 * message body and {@code encode} to wire bytes. Everything else is relayed without decoding.
 */
package io.pgproxy.protocol.message;
