package io.pgproxy.client;

import io.pgproxy.config.AuthQueryConfig;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;
import io.pgproxy.pool.RefusalReason;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.LongSupplier;

/**
 * Where a login finds its user: {@code pgproxy.users} first, then the auth query, whose answers
 * (found or not) are kept for {@code auth-query.cache-ttl} so that neither a busy application
 * nor a probe with one name costs a backend round trip per login; logins that miss the cache for
 * the same user at once share one lookup. Failed lookups are not kept:
 * a backend back from an outage serves the next login. The cache is emptied when the auth
 * query's settings change on reload; at most {@code max-cached-users} answers are kept, the
 * oldest dropped first. Secrets stay in {@link UserConfig}, which never prints them.
 */
public final class UserDirectory {
    private static final Logger log = LoggerFactory.getLogger(UserDirectory.class);

    /** The settings are part of the key so that a lookup in flight across a reload serves only its own settings. */
    private record Key(AuthQueryConfig settings, String host, int port, String dbname, String user) {
    }

    private record Answer(UserLookup lookup, long expiresNanos) {
    }

    /** Runs one lookup; the auth query on the backend, replaced in tests. */
    @FunctionalInterface
    interface Lookup {
        UserLookup run(AuthQueryConfig q, DatabaseConfig db, String user, ProxyConfig config) throws IOException;
    }

    private final Lookup lookup;
    private final LongSupplier nanoClock;
    private final Map<Key, Answer> answers = new LinkedHashMap<>();
    /** Lookups running now: logins for the same user wait for the one query instead of each sending theirs. */
    private final ConcurrentHashMap<Key, CompletableFuture<UserLookup>> inFlight = new ConcurrentHashMap<>();
    private AuthQueryConfig cachedFor;

    /** Runs the auth query on backends logged in to as the pools' connections are ({@code leases}' targets). */
    public UserDirectory(io.pgproxy.pool.LeaseManager leases) {
        this((q, db, user, config) -> AuthQuery.run(leases.authQueryTarget(db, q.authUser(), q.authPassword()), q, db,
                user, config.pool().serverConnectTimeout()), System::nanoTime);
    }

    UserDirectory(Lookup lookup, LongSupplier nanoClock) {
        this.lookup = lookup;
        this.nanoClock = nanoClock;
    }

    /**
     * The user {@code user} logging in to {@code database}.
     *
     * @throws ClientRefusedException the auth query could not run (reason {@link RefusalReason#AUTH_QUERY_FAILED})
     */
    UserLookup find(ProxyConfig config, String user, String database, String connectionId) throws ClientRefusedException {
        UserConfig configured = config.users().get(user);
        if (configured != null) {
            return new UserLookup.Known(configured);
        }
        AuthQueryConfig q = config.auth().authQuery();
        DatabaseConfig db = q == null ? null : config.databases().get(q.authDbname() != null ? q.authDbname() : database);
        if (db == null) {
            return new UserLookup.Unknown(user);
        }
        Key key = new Key(q, db.host(), db.port(), db.dbname(), user);
        long now = nanoClock.getAsLong();
        Answer cached = cached(q, key, now);
        if (cached != null) {
            return cached.lookup();
        }
        CompletableFuture<UserLookup> mine = new CompletableFuture<>();
        CompletableFuture<UserLookup> running = inFlight.putIfAbsent(key, mine);
        if (running != null) {
            return awaitOther(running, user);
        }
        try {
            UserLookup found = lookup.run(q, db, user, config);
            log.debug("{} auth query for user \"{}\": {}", connectionId, user, found.getClass().getSimpleName());
            store(q, key, new Answer(found, now + q.cacheTtl().toNanos()));
            mine.complete(found);
            return found;
        } catch (IOException e) {
            log.warn("{} auth query for user \"{}\" failed: {}", connectionId, user, e.getMessage());
            mine.completeExceptionally(e);
            throw lookupFailed(user);
        } catch (RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(key, mine);
        }
    }

    /** The answer of the lookup another login started; it is bounded by that login's connect timeout. */
    private static UserLookup awaitOther(CompletableFuture<UserLookup> running, String user) throws ClientRefusedException {
        try {
            return running.get();
        } catch (ExecutionException e) {
            throw lookupFailed(user);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw lookupFailed(user);
        }
    }

    private static ClientRefusedException lookupFailed(String user) {
        return new ClientRefusedException(RefusalReason.AUTH_QUERY_FAILED, "08001",
                "pgproxy could not look up user \"" + user + "\" on the backend");
    }

    private synchronized Answer cached(AuthQueryConfig q, Key key, long now) {
        if (!q.equals(cachedFor)) {
            answers.clear();
            cachedFor = q;
            return null;
        }
        Answer a = answers.get(key);
        if (a != null && now - a.expiresNanos() >= 0) {
            answers.remove(key);
            return null;
        }
        return a;
    }

    private synchronized void store(AuthQueryConfig q, Key key, Answer answer) {
        if (!q.equals(cachedFor)) {
            return; // the settings changed while this lookup ran: its answer belongs to the old ones
        }
        answers.remove(key); // re-inserted last, so the eldest entry really is the oldest answer
        answers.put(key, answer);
        while (answers.size() > q.maxCachedUsers()) {
            answers.remove(answers.keySet().iterator().next());
        }
    }
}
