package io.pgproxy.failover;

import io.pgproxy.config.HostAddress;

/**
 * One host's health as its checks tell it. Its state moves only in {@link #record}: down after
 * {@code fall} failed checks in a row, up again after {@code rise} good ones, up at once on the
 * first good check of a host not checked before. A connection failure seen by a pool makes the
 * host suspect until its next good check, so clients wait for a check rather than retry a dead
 * server, without moving the cluster on one failure.
 */
public final class HostHealth {
    private final HostAddress address;
    private HostState state = HostState.UNKNOWN;
    private HostRole role = HostRole.UNKNOWN;
    private int goodInRow;
    private int failedInRow;
    private boolean suspect;
    private String lastError;
    private long checks;
    private long failures;
    private long walPosition;

    HostHealth(HostAddress address) {
        this.address = address;
    }

    public HostAddress address() {
        return address;
    }

    /**
     * Applies one check's result; returns whether the state or role changed. The role follows
     * each good check at once: a server's own word on recovery is never stale the way a count is.
     */
    synchronized boolean record(CheckResult result, int fall, int rise) {
        HostState stateBefore = state;
        HostRole roleBefore = role;
        checks++;
        switch (result) {
            case CheckResult.Answered a -> {
                failedInRow = 0;
                goodInRow++;
                suspect = false;
                lastError = null;
                role = a.inRecovery() ? HostRole.STANDBY : a.readOnly() ? HostRole.READ_ONLY : HostRole.PRIMARY;
                walPosition = a.walPosition();
                if (state == HostState.UNKNOWN || (state == HostState.DOWN && goodInRow >= rise)) {
                    state = HostState.UP;
                }
            }
            case CheckResult.Failed f -> {
                failures++;
                goodInRow = 0;
                failedInRow++;
                lastError = f.reason();
                if (state != HostState.DOWN && failedInRow >= fall) {
                    state = HostState.DOWN;
                }
            }
        }
        return state != stateBefore || role != roleBefore;
    }

    /** A pool's connection to it failed: not a primary to hand out until a check answers again. */
    synchronized void suspect() {
        suspect = true;
    }

    /** Up, not suspect, and said it is the primary. */
    synchronized boolean servesAsPrimary() {
        return state == HostState.UP && role == HostRole.PRIMARY && !suspect;
    }

    public synchronized HostState state() {
        return state;
    }

    public synchronized HostRole role() {
        return role;
    }

    public synchronized boolean isSuspect() {
        return suspect;
    }

    /** Up and said it is a standby (suspect or not: a standby's connections are not what failed over). */
    synchronized boolean servesAsStandby() {
        return state == HostState.UP && role == HostRole.STANDBY && !suspect;
    }

    /** Its WAL position at its last good check: a primary's write position, a standby's replay position. */
    public synchronized long walPosition() {
        return walPosition;
    }

    /** Why the last check failed; null after a good one. */
    public synchronized String lastError() {
        return lastError;
    }

    public synchronized long checks() {
        return checks;
    }

    public synchronized long failures() {
        return failures;
    }
}
