/**
 * The PostgreSQL v3 wire protocol at the byte level: startup-phase packets, message framing
 * with named limits, tags per direction and the scanner that relays runs of messages while
 * looking only at the headers it must. Knows nothing of pools or connection lifecycles.
 */
package io.pgproxy.protocol;
