package io.pgproxy.config;

import java.util.Objects;

/**
 * The metrics and health HTTP endpoint: where it listens (port 0 = no endpoint) and how many
 * pools get labels of their own; the rest are added up under one label set, so a platform with
 * thousands of tenants cannot make a scrape (and the time series behind it) grow without bound.
 */
public record MetricsConfig(String listenHost, int listenPort, int maxLabelledPools) {
    public MetricsConfig {
        Objects.requireNonNull(listenHost, "listenHost");
    }

    /** Whether the endpoint is to be started. */
    public boolean enabled() {
        return listenPort != 0;
    }
}
