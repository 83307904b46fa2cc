package io.pgproxy.admin;

import io.pgproxy.config.ConfigException;
import io.pgproxy.config.ConfigLoader;
import io.pgproxy.config.ProxyConfig;

import java.lang.reflect.RecordComponent;
import java.time.Duration;
import java.util.Locale;

import static io.pgproxy.admin.Result.text;

/**
 * SHOW CONFIG: key, value, default, changeable, as PgBouncer. The keys are the HOCON paths of
 * pgproxy's settings (users and databases have SHOW USERS and SHOW DATABASES); the defaults are
 * what reference.conf gives, read by parsing an empty file.
 */
final class ConfigView {
    private static final ProxyConfig DEFAULTS;

    static {
        try {
            DEFAULTS = ConfigLoader.parse("");
        } catch (ConfigException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private ConfigView() {
    }

    static Result show(ProxyConfig c) {
        Result r = new Result(text("key"), text("value"), text("default"), text("changeable"));
        section(r, "pgproxy.listen", c.listen(), DEFAULTS.listen(), false);
        section(r, "pgproxy.limits", c.limits(), DEFAULTS.limits(), true);
        section(r, "pgproxy.pool", c.pool(), DEFAULTS.pool(), true);
        section(r, "pgproxy.client-tls", c.clientTls(), DEFAULTS.clientTls(), true);
        r.row("pgproxy.stats-period", format(c.statsPeriod()), format(DEFAULTS.statsPeriod()), "yes");
        r.row("pgproxy.admin-users", String.join(",", c.adminUsers()), "", "yes");
        r.row("pgproxy.stats-users", String.join(",", c.statsUsers()), "", "yes");
        return r;
    }

    /** One row per component of a settings record, named as its HOCON key. */
    private static void section(Result r, String prefix, Record value, Record defaults, boolean changeable) {
        for (RecordComponent rc : value.getClass().getRecordComponents()) {
            try {
                Object v = rc.getAccessor().invoke(value);
                Object d = rc.getAccessor().invoke(defaults);
                r.row(prefix + "." + kebab(rc.getName()), format(v), format(d), changeable ? "yes" : "no");
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(rc.getName(), e);
            }
        }
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }

    private static String format(Object v) {
        if (v instanceof Duration d) {
            return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
        }
        if (v instanceof Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
        return v == null ? "" : String.valueOf(v);
    }
}
