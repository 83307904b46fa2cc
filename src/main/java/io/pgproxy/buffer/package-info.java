/**
 * Pooled direct {@link java.nio.ByteBuffer}s for relaying. Buffers are leased for the length of
 * one run of messages and returned, so an idle client holds none; counters expose leaks.
 */
package io.pgproxy.buffer;
