package io.pgproxy.config;

import java.util.Locale;

/**
 * Which hosts of a cluster a database's backends may be on, with libpq's names. A database
 * entry with a standby setting is a read-only alias of a cluster: its clients read from the
 * standbys.
 */
public enum TargetSessionAttrs {
    /** The primary only (the default, and what any single-host database is). */
    READ_WRITE,
    /** Standbys only: with none usable, new transactions wait as for a primary. */
    STANDBY,
    /** Standbys, else the primary. */
    PREFER_STANDBY;

    /** The name in the configuration and in libpq: {@code prefer-standby}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Reads from standbys. */
    public boolean readsStandbys() {
        return this != READ_WRITE;
    }

    /** The value of a config name; {@code read-only} is libpq's other name for a standby here. */
    static TargetSessionAttrs of(String name) {
        return switch (name) {
            case "read-write", "primary" -> READ_WRITE;
            case "standby", "read-only" -> STANDBY;
            case "prefer-standby" -> PREFER_STANDBY;
            default -> null;
        };
    }
}
