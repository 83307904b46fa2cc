package io.pgproxy.config;

import java.time.Duration;
import java.util.Objects;

/**
 * How the proxy watches the hosts of databases that have more than one and follows their
 * primary. A host is down after {@code fallCount} failed checks in a row and up again after
 * {@code riseCount} good ones, so a host that misses fewer checks than that never moves a
 * cluster. {@code healthUser} and {@code healthPassword} log the checks in where the database
 * has no backend user of its own; {@code null} when unset. A standby whose replay is more than
 * {@code maxReplicaLag} bytes of WAL behind its primary gets no new read-only backends. A
 * transaction larger than {@code replayMaxBytes} of requests or {@code replayMaxStatements}
 * statements is not replayed, and a replay not caught up with what the client saw within
 * {@code replayTimeout} is given up.
 */
public record FailoverConfig(Duration checkInterval,
                             Duration checkTimeout,
                             int fallCount,
                             int riseCount,
                             Duration primaryWaitTimeout,
                             Duration switchoverTimeout,
                             String healthUser,
                             String healthPassword,
                             long maxReplicaLag,
                             int replayMaxBytes,
                             int replayMaxStatements,
                             Duration replayTimeout) {
    public FailoverConfig {
        Objects.requireNonNull(checkInterval, "checkInterval");
        Objects.requireNonNull(checkTimeout, "checkTimeout");
        Objects.requireNonNull(primaryWaitTimeout, "primaryWaitTimeout");
        Objects.requireNonNull(switchoverTimeout, "switchoverTimeout");
        Objects.requireNonNull(replayTimeout, "replayTimeout");
    }

    /** The defaults of reference.conf, for tests and code that builds a config by hand. */
    public static final FailoverConfig DEFAULT = new FailoverConfig(Duration.ofSeconds(1), Duration.ofSeconds(2), 3, 2,
            Duration.ofSeconds(30), Duration.ofSeconds(10), null, null, 16L << 20, 64 << 10, 100, Duration.ofSeconds(10));

    // The health password is cleartext; toString ends up in logs.
    @Override
    public String toString() {
        return "FailoverConfig[checkInterval=" + checkInterval + ", checkTimeout=" + checkTimeout + ", fallCount="
                + fallCount + ", riseCount=" + riseCount + ", primaryWaitTimeout=" + primaryWaitTimeout
                + ", switchoverTimeout=" + switchoverTimeout + ", healthUser=" + healthUser + ", healthPassword="
                + (healthPassword == null ? "null" : "<redacted>") + ", maxReplicaLag=" + maxReplicaLag
                + ", replayMaxBytes=" + replayMaxBytes + ", replayMaxStatements=" + replayMaxStatements
                + ", replayTimeout=" + replayTimeout + "]";
    }
}
