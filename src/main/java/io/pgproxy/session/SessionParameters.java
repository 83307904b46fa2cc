package io.pgproxy.session;

import io.pgproxy.protocol.MessageBuilder;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Locale;
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
    /** Reported parameters a client cannot set: never replayed. */
    private static final Set<String> READ_ONLY = Set.of("server_version", "server_encoding", "integer_datetimes",
            "is_superuser", "session_authorization", "in_hot_standby");

    /** Identical maps shared between clients, so ten thousand idle clients keep one copy. */
    private static final int MAX_INTERNED = 4096;
    private static final ConcurrentHashMap<Map<String, String>, Map<String, String>> INTERNED = new ConcurrentHashMap<>();

    // Immutable and often shared; replaced, never changed, when the client changes a value.
    private Map<String, String> requested;
    private Map<String, String> reported = Map.of();
    /** What the client asked for at startup: its session defaults. */
    private final Map<String, String> startup;

    public SessionParameters(Map<String, String> startupParameters) {
        Map<String, String> r = new LinkedHashMap<>();
        startupParameters.forEach((k, v) -> {
            if (!NOT_PARAMETERS.contains(k) && !k.startsWith("_pq_.")) {
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

    public synchronized State state() {
        return new State(requested, reported);
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
        for (Map.Entry<String, String> e : requested.entrySet()) {
            String key = canonicalName(backendParameters.keySet(), e.getKey());
            if (key != null) {
                g.put(key, normalise(key, e.getValue()));
            }
        }
        reported = intern(g);
        return reported;
    }

    /**
     * What must be set on a backend to give it this client's session: every value the client
     * asked for or has been told that the backend reports differently, plus the values the
     * backend does not report (extra_float_digits, ...) unless the proxy set them there before.
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
            String key = canonicalName(want.keySet(), k);
            want.put(key != null ? key : k, v);
        });
        Map<String, String> d = new LinkedHashMap<>();
        want.forEach((k, v) -> {
            String key = canonicalName(backendParameters.keySet(), k);
            String have = key != null ? backendParameters.get(key) : assumed.get(k);
            if (!normalise(key != null ? key : k, v).equals(have)) {
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
        Map<String, String> c = new LinkedHashMap<>();
        backendParameters.forEach((k, v) -> {
            if (!v.equals(reported.get(k))) {
                c.put(k, v);
            }
        });
        if (!c.isEmpty()) {
            reported = with(reported, c);
        }
        return c;
    }

    /**
     * The backend reported a parameter while serving the client (a SET, a RESET, a function's
     * SET clause): the client now wants that value on every backend it lands on, and has seen it.
     */
    public synchronized void observe(String name, String value) {
        reported = with(reported, Map.of(name, value));
        if (READ_ONLY.contains(name)) {
            return;
        }
        String key = canonicalName(requested.keySet(), name);
        requested = with(requested, Map.of(key != null ? key : name, value));
    }

    /**
     * The client ran DISCARD ALL or RESET ALL: every parameter went back to its session default,
     * so what it SET since startup must not follow it to the next backend. The backend reports
     * the values that changed right after, and {@link #observe} takes them.
     */
    public synchronized void resetAll() {
        requested = startup;
    }

    /** The client ran {@code RESET name}: that parameter is back to its session default. */
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

    /** A plain SET the client ran (see {@link SetStatement}): replayed on the backends it lands on. */
    public synchronized void track(String name, String value) {
        String key = canonicalName(requested.keySet(), name);
        requested = with(requested, Map.of(key != null ? key : name, value));
    }

    /**
     * After a diff was applied, takes the backend's spelling of each applied value (DateStyle
     * "ISO" reads back as "ISO, MDY"), so the next diff against an equal backend is empty.
     */
    public synchronized void adopt(Map<String, String> applied, Map<String, String> backendParameters) {
        Map<String, String> r = new LinkedHashMap<>(requested);
        for (String name : applied.keySet()) {
            String key = canonicalName(backendParameters.keySet(), name);
            if (key != null && applied.get(name) != null) {
                r.remove(name);
                r.put(key, backendParameters.get(key));
            }
        }
        requested = intern(r);
    }

    /**
     * One extended-protocol batch that sets each parameter with {@code set_config}, values bound
     * as parameters so nothing needs quoting (a null value resets the parameter to its default);
     * ends in one Sync, so one ReadyForQuery comes back.
     */
    public static ByteBuffer setBatch(Map<String, String> values) {
        MessageBuilder b = new MessageBuilder();
        b.begin((byte) 'P').cstring("").cstring("SELECT pg_catalog.set_config($1, $2, false)").int16(0).end();
        for (Map.Entry<String, String> e : values.entrySet()) {
            byte[] k = e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            byte[] v = e.getValue() == null ? new byte[0] : e.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            b.begin((byte) 'B').cstring("").cstring("").int16(0).int16(2).int32(k.length).bytes(k);
            if (e.getValue() == null) {
                b.int32(-1);
            } else {
                b.int32(v.length).bytes(v);
            }
            b.int16(0).end();
            b.begin((byte) 'E').cstring("").int32(0).end();
        }
        b.begin((byte) 'S').end();
        return b.toBuffer();
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

    /** PostgreSQL reports client_encoding by its canonical name whatever alias was asked for. */
    private static String normalise(String key, String value) {
        if (key.equals("client_encoding")) {
            String v = value.toUpperCase(Locale.ROOT).replace("-", "").replace("_", "");
            return v.equals("UNICODE") ? "UTF8" : v;
        }
        return value;
    }
}
