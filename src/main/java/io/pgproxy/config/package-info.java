/**
 * Loads and validates the pgproxy HOCON configuration into immutable records; this is the only
 * package that knows about com.typesafe.config, so the rest of the proxy never sees a parser type.
 */
package io.pgproxy.config;
