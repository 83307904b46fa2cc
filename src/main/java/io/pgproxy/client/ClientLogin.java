package io.pgproxy.client;

import io.pgproxy.auth.AuthException;
import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.backend.BackendConnection;
import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.AuthRule;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.PoolMode;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;
import io.pgproxy.pool.Lease;
import io.pgproxy.pool.Pool;
import io.pgproxy.pool.RefusalReason;
import io.pgproxy.protocol.MessageReader;
import io.pgproxy.protocol.ProtocolException;
import io.pgproxy.protocol.StartupPacket.StartupMessage;
import io.pgproxy.protocol.message.ErrorResponse;
import io.pgproxy.protocol.message.NegotiateProtocolVersion;
import io.pgproxy.session.ParameterValues;
import io.pgproxy.session.SessionParameters;
import io.pgproxy.session.StartupOptions;
import io.pgproxy.tls.ClientTls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.channels.ReadableByteChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * From a StartupMessage to a routed, authenticated client: checks the startup parameters,
 * finds the database and the user in the configuration, authenticates, admits the client
 * against the per-database and per-user limits, and works out its pool, pooling mode and
 * session parameters. Each refusal names its reason.
 *
 * @see AuthPolicy the hba rules and methods
 */
final class ClientLogin {
    private static final Logger log = LoggerFactory.getLogger(ClientLogin.class);
    private static final Duration VALIDATION_TIMEOUT = Duration.ofSeconds(10);

    /**
     * Where a logged-in client goes and what it starts with. {@code tracked}: the session's
     * state is followed so that it can move to another backend; always in transaction pooling,
     * and in session pooling where the database is a cluster, whose primary may change under it.
     */
    record Route(Pool pool, boolean transactionMode, boolean statementMode, boolean tracked,
                 SessionParameters parameters, Map<String, String> greeting) {
    }

    private final String id;
    private final StartupMessage startup;
    private final String user;
    private final String database;

    ClientLogin(String id, StartupMessage startup) {
        this.id = id;
        this.startup = startup;
        Map<String, String> params = startup.parameters();
        this.user = params.getOrDefault("user", "");
        this.database = params.getOrDefault("database", user);
    }

    String user() {
        return user;
    }

    String database() {
        return database;
    }

    /** Runs the login; {@code admitted} is called once the client counts against the limits. */
    Route run(ClientContext context, ReadableByteChannel in, InetAddress address, ClientChannel out, ClientTls tls,
              Runnable admitted)
            throws IOException {
        ProxyConfig config = context.config().get();
        Map<String, String> optionValues = checkStartup(out);
        // As PostgreSQL: an unknown database is told only to a client that authenticated.
        UserConfig userConfig = authenticate(context, config, in, address, out, tls);
        DatabaseConfig db = config.databases().get(database);
        if (db == null) {
            throw new ClientRefusedException(RefusalReason.UNKNOWN_DATABASE, "3D000", "database \"" + database + "\" does not exist");
        }
        context.registry().admit(database, user, config.limits().maxDbClients(), config.limits().maxUserClients());
        admitted.run();
        Pool pool = context.leases().pool(db, user);
        // A user's own pool mode wins over the database's, as in PgBouncer.
        PoolMode mode = userConfig.mode() != null ? userConfig.mode() : db.mode();
        Map<String, String> server = pool.welcomeParameters();
        SessionParameters parameters;
        try {
            parameters = new SessionParameters(startupParameters(optionValues, startup.parameters(), server));
        } catch (IllegalArgumentException e) {
            throw new ClientRefusedException(RefusalReason.STARTUP_PARAMETER, "55P02", e.getMessage());
        }
        validate(pool, parameters);
        return new Route(pool, mode != PoolMode.SESSION, mode == PoolMode.STATEMENT,
                mode != PoolMode.SESSION || db.hosts().size() > 1, parameters,
                parameters.greeting(server));
    }

    /**
     * Startup values no backend of the pool has taken yet are tried on one now, as PostgreSQL
     * applies them at its own login: a value the server refuses (work_mem=abc, an unknown
     * parameter in options) refuses the login with the server's SQLSTATE, instead of letting it
     * succeed and ending the session at its first query; the values a client's leases then
     * send ahead of its requests are known to be taken. Once per distinct set per pool.
     */
    private void validate(Pool pool, SessionParameters parameters) throws IOException {
        Map<String, String> startup = parameters.startup();
        if (startup.isEmpty() || pool.acceptedParameters().contains(startup)) {
            return;
        }
        Lease lease = pool.acquire(null);
        BackendConnection b = lease.backend();
        ErrorResponse refused;
        try {
            Map<String, String> values = parameters.diff(b.session().baseline(), Map.of());
            refused = b.runInternal(SessionParameters.setBatch(values, true), 1, VALIDATION_TIMEOUT);
        } catch (IOException | RuntimeException e) {
            lease.discard();
            throw e;
        }
        // Released through the pool's reset, which takes the values (or a failed batch's leftovers) off.
        lease.release();
        if (refused != null) {
            log.debug("{} startup parameters refused by the server: {} {}", id, refused.sqlState(), refused.message());
            throw new ClientRefusedException(RefusalReason.STARTUP_PARAMETER, refused.sqlState(), refused.message());
        }
        pool.acceptedParameters().add(startup);
    }

    /**
     * The login of an admin console client: checked and authenticated like any user, through the
     * same hba rules (its database is the console's name); it then
     * holds no pool and counts against no per-database limit. Its role is checked per command.
     */
    void runForConsole(ClientContext context, ReadableByteChannel in, InetAddress address, ClientChannel out, ClientTls tls)
            throws IOException {
        checkStartup(out);
        authenticate(context, context.config().get(), in, address, out, tls);
    }

    /** What the startup packet asks that pgproxy cannot give is refused; returns the options' values. */
    private Map<String, String> checkStartup(ClientChannel out) throws IOException {
        Map<String, String> params = startup.parameters();
        if (user.isEmpty()) {
            throw new ProtocolException("28000", "no PostgreSQL user name specified in startup packet");
        }
        List<String> unrecognized = new ArrayList<>(0);
        for (String k : params.keySet()) {
            if (k.startsWith("_pq_.")) {
                unrecognized.add(k);
            }
        }
        if (startup.minorVersion() > 0 || !unrecognized.isEmpty()) {
            out.send(new NegotiateProtocolVersion(0, unrecognized).encode());
        }
        if (params.containsKey("replication")) {
            throw new ClientRefusedException(RefusalReason.REPLICATION, "0A000", "replication connections are not supported by pgproxy");
        }
        Map<String, String> optionValues;
        try {
            optionValues = StartupOptions.parse(params.getOrDefault("options", ""));
        } catch (IllegalArgumentException e) {
            throw new ClientRefusedException(RefusalReason.STARTUP_PARAMETER, "0A000", "unsupported startup parameter options: " + e.getMessage());
        }
        return optionValues;
    }

    /**
     * Authenticates the client as the hba rules (or, without rules, its own method) say, and
     * returns its user. A failure is logged with the user, database, address and method, and
     * refused under its reason; never with a secret.
     */
    private UserConfig authenticate(ClientContext context, ProxyConfig config, ReadableByteChannel in, InetAddress address,
                                    ClientChannel out,
                                    ClientTls tls) throws IOException {
        AuthMethod method = null;
        UserLookup found = null;
        try {
            AuthRule rule = AuthPolicy.rule(config.auth(), database, user, address, tls);
            found = context.users().find(config, user, database, id);
            method = AuthPolicy.method(rule, found);
            AuthPolicy.requireTransport(method, rule, tls);
            if (method == AuthMethod.CERT) {
                AuthPolicy.checkCertificate(config.auth(), rule, tls, user);
            }
            log.debug("{} login {}@{} by {}", id, user, database, method.configName());
            UserLookup lookedUp = found;
            ClientAuthenticator authenticator = new ClientAuthenticator(out, new MessageReader(in),
                    config.limits().maxStartupPacketSize(), tls);
            authenticator.authenticate(method, found, () -> verifier(context, config, lookedUp));
            if (authenticator.scramKeys() != null) {
                // For SCRAM passthrough: this user's backends can now log in with the same keys.
                context.leases().scramKeys().remember(user, authenticator.scramKeys());
            }
            return switch (found) {
                case UserLookup.Known k -> k.user();
                // Trust and cert need no secret, but the role must exist, as in PostgreSQL.
                case UserLookup.WithoutSecret w -> new UserConfig(w.name(), AuthMethod.TRUST, null);
                case UserLookup.Unknown u -> throw new ClientRefusedException(RefusalReason.UNKNOWN_USER, "28000",
                        "role \"" + user + "\" does not exist");
            };
        } catch (ClientRefusedException e) {
            throw failed(e.reason(), e.sqlState(), e.getMessage(), address, method);
        } catch (AuthException e) {
            RefusalReason reason = !e.sqlState().equals("28P01") ? RefusalReason.AUTHENTICATION_FAILED
                    : found instanceof UserLookup.Unknown ? RefusalReason.UNKNOWN_USER
                    : found instanceof UserLookup.WithoutSecret ? RefusalReason.NO_PASSWORD
                    : RefusalReason.AUTHENTICATION_FAILED;
            throw failed(reason, e.sqlState(), e.getMessage(), address, method);
        } catch (ProtocolException e) {
            // A malformed or unexpected message during authentication: the same 08P01 and close,
            // logged as a failed login so the operator sees who it was.
            throw failed(RefusalReason.AUTHENTICATION_FAILED, e.sqlState(), e.getMessage(), address, method);
        } catch (java.io.EOFException | java.nio.channels.ClosedChannelException e) {
            if (found instanceof UserLookup.Known) {
                // psql hangs up at the challenge to prompt for the password, then comes back: as
                // PostgreSQL, that is no failed login.
                throw e;
            }
            // A probe of a name that hangs up at the challenge (pg_isready) still counts as what it was.
            throw failed(found instanceof UserLookup.WithoutSecret ? RefusalReason.NO_PASSWORD : RefusalReason.UNKNOWN_USER,
                    "28P01", "password authentication failed for user \"" + user + "\"", address, method);
        }
    }

    /** A configured user's verifier comes parsed from the snapshot's cache; one the auth query found is parsed afresh. */
    private static ScramVerifier verifier(ClientContext context, ProxyConfig config, UserLookup found) {
        UserConfig u = ((UserLookup.Known) found).user();
        return config.users().get(u.name()) == u ? context.verifiers().verifier(config, u) : ScramVerifier.parse(u.secret());
    }

    private ClientRefusedException failed(RefusalReason reason, String sqlState, String message, InetAddress address,
                                          AuthMethod method) {
        // The failed-login record of issue 13: who, from where, how, and why; never a password or secret.
        String detail = "; user=\"" + user + "\" database=\"" + database + "\" address="
                + (address == null ? "?" : address.getHostAddress())
                + " method=" + (method != null ? method.configName() : reason == RefusalReason.HBA_REJECT ? "reject" : "none")
                + " reason=" + reason.name().toLowerCase(java.util.Locale.ROOT);
        return new ClientRefusedException(reason, sqlState, message, detail);
    }


    /**
     * As PostgreSQL applies them: the options first, then the startup packet's own parameters,
     * names in any case; a DateStyle in both is the second merged into the first.
     */
    private static Map<String, String> startupParameters(Map<String, String> options, Map<String, String> params,
                                                         Map<String, String> server) {
        Map<String, String> all = new LinkedHashMap<>(options);
        params.forEach((k, v) -> {
            String earlierKey = null;
            for (String e : all.keySet()) {
                if (e.equalsIgnoreCase(k)) {
                    earlierKey = e;
                    break;
                }
            }
            String value = v;
            if (earlierKey != null) {
                String earlier = all.remove(earlierKey);
                if (k.equalsIgnoreCase("DateStyle")) {
                    value = ParameterValues.normalise(k, v, ParameterValues.normalise(k, earlier, server.get("DateStyle")));
                }
            }
            all.put(k, value);
        });
        return all;
    }
}
