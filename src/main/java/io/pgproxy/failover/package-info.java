/**
 * Clusters of backend hosts and how the proxy follows their primary: health checks that ask each
 * server whether it is in recovery, with hysteresis; the cluster that pools ask for the primary
 * and that makes them wait while there is none; and the coordinator that applies failovers,
 * switchovers and reloads that move a database, by draining its pools at a closed gate.
 */
package io.pgproxy.failover;
