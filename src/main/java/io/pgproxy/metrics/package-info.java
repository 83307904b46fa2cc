/**
 * Metrics and health over HTTP: Prometheus text exposition of the figures the layers below keep
 * (pool stats, client and backend states, refusals, errors the proxy sent), plus {@code /health}
 * and {@code /ready} for orchestrators. Read-only: collectors read those figures when a scrape
 * arrives and keep no copy, so nothing here runs on the relay path. Everything belongs to one
 * running {@code ProxyServer}; two servers in one JVM never share figures.
 */
package io.pgproxy.metrics;
