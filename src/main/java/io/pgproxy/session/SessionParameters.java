package io.pgproxy.session;

import io.pgproxy.protocol.MessageBuilder;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

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

    private final Map<String, String> requested = new LinkedHashMap<>();
    private final Map<String, String> reported = new LinkedHashMap<>();

    public SessionParameters(Map<String, String> startupParameters) {
        startupParameters.forEach((k, v) -> {
            if (!NOT_PARAMETERS.contains(k) && !k.startsWith("_pq_.")) {
                requested.put(k, v);
            }
        });
    }

    public Map<String, String> requested() {
        return requested;
    }

    /**
     * The ParameterStatus set to greet the client with: the backend's values, overridden by the
     * client's own requests, as PostgreSQL reports them after applying the startup packet.
     */
    public Map<String, String> greeting(Map<String, String> backendParameters) {
        reported.clear();
        reported.putAll(backendParameters);
        for (Map.Entry<String, String> e : requested.entrySet()) {
            String key = canonicalName(backendParameters.keySet(), e.getKey());
            if (key != null) {
                reported.put(key, normalise(key, e.getValue()));
            }
        }
        return Map.copyOf(reported);
    }

    /**
     * The requested parameters whose value on a backend may differ: reported ones that differ,
     * and unreported ones (extra_float_digits, search_path) which must be set anyway.
     */
    public Map<String, String> diff(Map<String, String> backendParameters) {
        Map<String, String> d = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : requested.entrySet()) {
            String key = canonicalName(backendParameters.keySet(), e.getKey());
            if (key == null || !normalise(key, e.getValue()).equals(backendParameters.get(key))) {
                d.put(e.getKey(), e.getValue());
            }
        }
        return d;
    }

    /**
     * What the client must be told now that it runs on a backend with these values: every
     * reported parameter that differs from what the client last heard.
     */
    public Map<String, String> corrections(Map<String, String> backendParameters) {
        Map<String, String> c = new LinkedHashMap<>();
        backendParameters.forEach((k, v) -> {
            if (!v.equals(reported.get(k))) {
                c.put(k, v);
            }
        });
        reported.putAll(c);
        return c;
    }

    /**
     * One extended-protocol batch that sets each parameter with {@code set_config}, values bound
     * as parameters so nothing needs quoting; ends in one Sync, so one ReadyForQuery comes back.
     */
    public static ByteBuffer setBatch(Map<String, String> values) {
        MessageBuilder b = new MessageBuilder();
        b.begin((byte) 'P').cstring("").cstring("SELECT pg_catalog.set_config($1, $2, false)").int16(0).end();
        for (Map.Entry<String, String> e : values.entrySet()) {
            byte[] k = e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            byte[] v = e.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            b.begin((byte) 'B').cstring("").cstring("").int16(0).int16(2)
                    .int32(k.length).bytes(k).int32(v.length).bytes(v).int16(0).end();
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
