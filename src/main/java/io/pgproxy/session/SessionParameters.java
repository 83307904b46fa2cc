package io.pgproxy.session;

import io.pgproxy.protocol.message.Query;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A client's run-time parameters. At startup a client names the values it wants (client_encoding,
 * DateStyle, TimeZone, application_name, ...); PostgreSQL would apply them to its own backend.
 * The proxy applies them to whichever backend serves the client, as a diff against what that
 * backend reports, and keeps what the client has been told so it can correct it when the
 * backend's real value differs.
 */
public final class SessionParameters {
    /** Startup keys that are not run-time parameters. */
    private static final Set<String> NOT_PARAMETERS = Set.of("user", "database", "replication", "options");
    /**
     * Reported parameters that follow the backend, not the client: fixed by the server
     * (server_version, server_encoding, integer_datetimes, in_hot_standby) or by who is logged
     * in (is_superuser, session_authorization). Never replayed; a client that changes its
     * identity is pinned instead (see {@link #changesIdentity}).
     */
    private static final Set<String> READ_ONLY = Set.of("server_version", "server_encoding", "integer_datetimes",
            "is_superuser", "session_authorization", "in_hot_standby");
    /** Parameters fixed by the server: a client that names one at startup is refused, as by PostgreSQL (55P02). */
    private static final Set<String> FIXED = Set.of("server_version", "server_encoding", "integer_datetimes",
            "is_superuser", "in_hot_standby");
    /** Reported parameters whose change means the session now runs as someone else. */
    private static final Set<String> IDENTITY = Set.of("is_superuser", "session_authorization");

    /** What takes a backend back to its login state, short of DISCARD ALL (which would drop prepared statements). */
    private static final String RESET_STATEMENTS = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; ";

    /** Identical maps shared between clients, so ten thousand idle clients keep one copy. */
    private static final int MAX_INTERNED = 4096;
    private static final ConcurrentHashMap<Map<String, String>, Map<String, String>> INTERNED = new ConcurrentHashMap<>();

    // Immutable and often shared; replaced, never changed, when the client changes a value.
    /**
     * The client's values of parameters the backend does not report (its startup values and
     * recognised SETs); reported ones follow {@link #reported}, the server's own spelling.
     */
    private Map<String, String> requested;
    /** What the client has been told, in the server's words: the values that follow it. */
    private Map<String, String> reported = Map.of();
    /** What the client asked for at startup: its session defaults. */
    private final Map<String, String> startup;
    /** The client's startup values of reported parameters, as PostgreSQL would report them. */
    private Map<String, String> startupReported = Map.of();
    /** session_authorization and is_superuser as the client was greeted. */
    private Map<String, String> loginIdentity = Map.of();
    private volatile boolean identityChanged;
    /** The last snapshot {@link #state()} gave. */
    private State state;

    /** @throws IllegalArgumentException when the client names a parameter fixed by the server */
    public SessionParameters(Map<String, String> startupParameters) {
        Map<String, String> r = new LinkedHashMap<>();
        startupParameters.forEach((k, v) -> {
            String lower = k.toLowerCase(java.util.Locale.ROOT);
            if (FIXED.contains(lower)) {
                throw new IllegalArgumentException("parameter \"" + k + "\" cannot be changed");
            }
            // PostgreSQL takes no identity from the startup packet but the login's own.
            if (!NOT_PARAMETERS.contains(k) && !k.startsWith("_pq_.") && !lower.equals("session_authorization")) {
                r.put(k, v);
            }
        });
        requested = intern(r);
        startup = requested;
    }

    private static Map<String, String> intern(Map<String, String> values) {
        Map<String, String> copy = Map.copyOf(values);
        Map<String, String> shared = INTERNED.get(copy);
        if (shared != null) {
            return shared;
        }
        if (INTERNED.size() < MAX_INTERNED) {
            shared = INTERNED.putIfAbsent(copy, copy);
        }
        return shared != null ? shared : copy;
    }

    private static Map<String, String> with(Map<String, String> base, Map<String, String> changes) {
        Map<String, String> m = new LinkedHashMap<>(base);
        m.putAll(changes);
        return intern(m);
    }

    /**
     * A snapshot of the whole parameter state. Maps are interned, so clients with the same
     * parameters share one state and comparing two is two reference checks.
     */
    public record State(Map<String, String> requested, Map<String, String> reported) {
        public boolean sameAs(State other) {
            return other != null && requested == other.requested && reported == other.reported;
        }
    }

    /** What the client asked for at startup (interned: clients asking alike share it). */
    public Map<String, String> startup() {
        return startup;
    }

    public synchronized State state() {
        State s = state;
        // Asked at every lease and settle; a new snapshot only when a value changed.
        if (s == null || s.requested != requested || s.reported != reported) {
            state = s = new State(requested, reported);
        }
        return s;
    }

    public synchronized Map<String, String> requested() {
        return requested;
    }

    /**
     * The ParameterStatus set to greet the client with: the backend's values, overridden by the
     * client's own requests, as PostgreSQL reports them after applying the startup packet.
     */
    public synchronized Map<String, String> greeting(Map<String, String> backendParameters) {
        Map<String, String> g = new LinkedHashMap<>(backendParameters);
        Map<String, String> own = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : requested.entrySet()) {
            String key = canonicalName(backendParameters.keySet(), e.getKey());
            if (key != null) {
                own.put(key, ParameterValues.normalise(key, e.getValue(), backendParameters.get(key)));
            }
        }
        g.putAll(own);
        startupReported = Map.copyOf(own);
        reported = intern(g);
        Map<String, String> identity = new LinkedHashMap<>();
        for (String name : IDENTITY) {
            if (reported.containsKey(name)) {
                identity.put(name, reported.get(name));
            }
        }
        loginIdentity = Map.copyOf(identity);
        return reported;
    }

    /**
     * What must be set on a backend to give it this client's session: every reported value the
     * client has been told that the backend reports differently (the server's spelling, never
     * the text of the client's SET: "dmy" would merge with the backend's own DateStyle), plus
     * the unreported values the client set unless the proxy set them there before.
     *
     * @param backendParameters what the backend reports
     * @param assumed values the proxy set on that backend for parameters it does not report
     */
    public synchronized Map<String, String> diff(Map<String, String> backendParameters, Map<String, String> assumed) {
        Map<String, String> want = new LinkedHashMap<>();
        reported.forEach((k, v) -> {
            if (!READ_ONLY.contains(k)) {
                want.put(k, v);
            }
        });
        requested.forEach((k, v) -> {
            if (canonicalName(reported.keySet(), k) == null) {
                want.put(k, v);
            }
        });
        Map<String, String> d = new LinkedHashMap<>();
        want.forEach((k, v) -> {
            String key = canonicalName(backendParameters.keySet(), k);
            String have = key != null ? backendParameters.get(key) : assumed.get(k);
            if (!v.equals(have)) {
                d.put(k, v);
            }
        });
        // What another client set there and this one never asked for goes back to its default
        // (a null value: set_config resets it).
        assumed.keySet().forEach(k -> {
            if (canonicalName(want.keySet(), k) == null) {
                d.put(k, null);
            }
        });
        return d;
    }

    /** {@link #diff(Map, Map)} for a backend with no assumed values. */
    public Map<String, String> diff(Map<String, String> backendParameters) {
        return diff(backendParameters, Map.of());
    }

    /**
     * What the client must be told now that it runs on a backend with these values: every
     * reported parameter that differs from what the client last heard.
     */
    public synchronized Map<String, String> corrections(Map<String, String> backendParameters) {
        Map<String, String> c = null;
        // Once per lease: allocates only when there is something to tell.
        for (Map.Entry<String, String> e : backendParameters.entrySet()) {
            if (!e.getValue().equals(reported.get(e.getKey()))) {
                if (c == null) {
                    c = new LinkedHashMap<>();
                }
                c.put(e.getKey(), e.getValue());
            }
        }
        if (c == null) {
            return Map.of();
        }
        reported = with(reported, c);
        // Only the client's own startup role, replayed by the proxy, moves these here.
        Map<String, String> identity = new LinkedHashMap<>(loginIdentity);
        c.forEach((k, v) -> {
            if (IDENTITY.contains(k)) {
                identity.put(k, v);
            }
        });
        loginIdentity = Map.copyOf(identity);
        updateIdentityChanged();
        return c;
    }

    /**
     * The backend reported a parameter while serving the client (a SET, a RESET, set_config, a
     * rollback): the client has seen that value and wants it on every backend it lands on.
     */
    public synchronized void observe(String name, String value) {
        reported = with(reported, Map.of(name, value));
        if (IDENTITY.contains(name)) {
            updateIdentityChanged();
        }
    }

    /**
     * Whether the session now runs as someone other than it logged in as (SET SESSION
     * AUTHORIZATION, or SET ROLE to or from a superuser), judged from what the backend reported.
     */
    public boolean identityChanged() {
        return identityChanged;
    }

    /** Kept up to date where reported values change, so the per-ReadyForQuery check is one read. */
    private void updateIdentityChanged() {
        boolean changed = false;
        for (String name : IDENTITY) {
            String now = reported.get(name);
            if (now != null && !now.equals(loginIdentity.get(name))) {
                changed = true;
            }
        }
        identityChanged = changed;
    }


    /**
     * The client ran DISCARD ALL or RESET ALL: every parameter went back to its session default,
     * so what it SET since startup must not follow it to the next backend. The backend reports
     * the values that changed right after, and {@link #observe} takes them.
     */
    public synchronized void resetAll() {
        requested = startup;
    }

    /**
     * The client ran {@code RESET name} (or {@code SET name TO DEFAULT}): that parameter is back
     * to its session default. Reported ones follow the backend's reports, which the reader's
     * repair made the client's startup values.
     */
    public synchronized void reset(String name) {
        String key = canonicalName(requested.keySet(), name);
        if (key == null) {
            return;
        }
        Map<String, String> r = new LinkedHashMap<>(requested);
        r.remove(key);
        String startupKey = canonicalName(startup.keySet(), name);
        if (startupKey != null) {
            r.put(startupKey, startup.get(startupKey));
        }
        requested = intern(r);
    }

    /**
     * The client's startup values of these parameters (lower-case names; null for all), reported
     * ones as PostgreSQL reports them: what a RESET gives back on a direct connection.
     */
    public synchronized Map<String, String> startupValues(java.util.Collection<String> names) {
        Map<String, String> v = new LinkedHashMap<>();
        startup.forEach((k, value) -> {
            if (names == null || names.contains(k.toLowerCase(java.util.Locale.ROOT))) {
                String reportedKey = canonicalName(startupReported.keySet(), k);
                if (reportedKey != null) {
                    v.put(reportedKey, startupReported.get(reportedKey));
                } else {
                    v.put(k, value);
                }
            }
        });
        return v;
    }

    /** Whether the backend reports this parameter (any case), so that it follows the client by its reports. */
    public synchronized boolean isReported(String name) {
        return canonicalName(reported.keySet(), name) != null;
    }

    /** A plain SET the client ran (see {@link SetStatement}): replayed on the backends it lands on. */
    public synchronized void track(String name, String value) {
        if (canonicalName(reported.keySet(), name) != null) {
            // Reported: its ParameterStatus (or, unchanged, what the client was told) is the value.
            return;
        }
        String key = canonicalName(requested.keySet(), name);
        requested = with(requested, Map.of(key != null ? key : name, value));
    }

    /**
     * One simple Query that sets each parameter with {@code set_config} (a null value resets the
     * parameter to its default): one message, one implicit transaction, one ReadyForQuery.
     */
    public static ByteBuffer setBatch(Map<String, String> values) {
        return setBatch(values, false);
    }

    /**
     * As {@link #setBatch(Map)}; with {@code resetFirst} the query first takes the backend back
     * to how it logged in ({@code SET SESSION AUTHORIZATION DEFAULT}, which also ends any SET
     * ROLE, then {@code RESET ALL}), so nothing another client set survives, whatever statement
     * set it. A simple Query, not Parse/Bind/Execute per statement: the server parses it once
     * and runs it in one implicit transaction, about a fifth of the server's work for the same
     * statements in extended messages (BENCHMARKS.md §13), and it may run before every
     * transaction.
     */
    public static ByteBuffer setBatch(Map<String, String> values, boolean resetFirst) {
        StringBuilder sql = new StringBuilder(64 + 48 * values.size());
        if (resetFirst) {
            sql.append(RESET_STATEMENTS);
        }
        String separator = "SELECT ";
        for (Map.Entry<String, String> e : values.entrySet()) {
            sql.append(separator).append("pg_catalog.set_config(").append(literal(e.getKey())).append(", ")
                    .append(e.getValue() == null ? "NULL" : literal(e.getValue())).append(", false)");
            separator = ", ";
        }
        return ByteBuffer.wrap(new Query(sql.toString()).encode());
    }

    /**
     * A dollar-quoted literal: read the same whatever standard_conforming_strings the session
     * has. The tag is one the value cannot end early.
     */
    static String literal(String value) {
        String tag = "$p$";
        for (int n = 0; (value + tag).indexOf(tag) != value.length(); n++) {
            tag = "$p" + n + "$";
        }
        return tag + value + tag;
    }

    private static String canonicalName(Set<String> known, String name) {
        if (known.contains(name)) {
            return name;
        }
        for (String k : known) {
            if (k.equalsIgnoreCase(name)) {
                return k;
            }
        }
        return null;
    }
}
