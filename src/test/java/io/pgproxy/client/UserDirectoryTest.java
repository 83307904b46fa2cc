package io.pgproxy.client;

import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.ConfigLoader;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.config.UserConfig;
import io.pgproxy.pool.RefusalReason;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Configured users first, then the auth query, its answers cached for the TTL and bounded in number. */
class UserDirectoryTest {
    private static final String MD5 = "md5" + "a".repeat(32);
    private final AtomicLong now = new AtomicLong();
    private final List<String> queried = new ArrayList<>();
    private IOException failWith;

    private final UserDirectory directory = new UserDirectory((q, db, user, config) -> {
        queried.add(db.name() + "/" + user);
        if (failWith != null) {
            throw failWith;
        }
        return user.startsWith("ghost") ? new UserLookup.Unknown(user)
                : new UserLookup.Known(new UserConfig(user, AuthMethod.MD5, MD5));
    }, now::get);

    private static ProxyConfig config(String extra) throws Exception {
        return ConfigLoader.parse("""
                pgproxy.users.alice.auth = trust
                pgproxy.databases { app.host = h, other.host = h2 }
                pgproxy.auth-query { auth-user = lookup, cache-ttl = 10s, max-cached-users = 2 }
                """ + extra);
    }

    @Test
    void aConfiguredUserNeverReachesTheAuthQuery() throws Exception {
        UserLookup u = directory.find(config(""), "alice", "app", "c1");
        assertEquals(new UserLookup.Known(new UserConfig("alice", AuthMethod.TRUST, null)), u);
        assertEquals(List.of(), queried);
    }

    @Test
    void withoutAnAuthQueryAnUnlistedUserIsUnknown() throws Exception {
        assertInstanceOf(UserLookup.Unknown.class, directory.find(ConfigLoader.parse("pgproxy.databases.app.host = h"),
                "bob", "app", "c1"));
        assertEquals(List.of(), queried);
    }

    @Test
    void answersFoundOrNotAreReusedUntilTheTtlPasses() throws Exception {
        ProxyConfig c = config("");
        assertEquals(new UserLookup.Known(new UserConfig("bob", AuthMethod.MD5, MD5)), directory.find(c, "bob", "app", "c1"));
        assertInstanceOf(UserLookup.Unknown.class, directory.find(c, "ghost", "app", "c1"));
        now.addAndGet(9_999_000_000L);
        directory.find(c, "bob", "app", "c2");
        directory.find(c, "ghost", "app", "c2");
        assertEquals(List.of("app/bob", "app/ghost"), queried);
        now.addAndGet(1_000_000L);
        directory.find(c, "bob", "app", "c3");
        assertEquals(List.of("app/bob", "app/ghost", "app/bob"), queried, "past the TTL the backend is asked again");
    }

    @Test
    void theQueryRunsOnTheClientsDatabaseOrTheAuthDbname() throws Exception {
        directory.find(config(""), "bob", "other", "c1");
        directory.find(config("pgproxy.auth-query.auth-dbname = app"), "bob", "other", "c1");
        assertEquals(List.of("other/bob", "app/bob"), queried);
        assertInstanceOf(UserLookup.Unknown.class, directory.find(config(""), "bob", "no_such_db", "c1"),
                "no database, no backend to ask");
    }

    @Test
    void atMostMaxCachedUsersAreKeptTheOldestDroppedFirst() throws Exception {
        ProxyConfig c = config("");
        directory.find(c, "u1", "app", "c");
        directory.find(c, "u2", "app", "c");
        directory.find(c, "u3", "app", "c");
        directory.find(c, "u3", "app", "c");
        directory.find(c, "u2", "app", "c");
        directory.find(c, "u1", "app", "c");
        assertEquals(List.of("app/u1", "app/u2", "app/u3", "app/u1"), queried);
    }

    @Test
    void changedAuthQuerySettingsEmptyTheCache() throws Exception {
        directory.find(config(""), "bob", "app", "c");
        directory.find(config("pgproxy.auth-query.cache-ttl = 11s"), "bob", "app", "c");
        assertEquals(List.of("app/bob", "app/bob"), queried);
    }

    @Test
    void aFailedLookupRefusesTheLoginAndIsNotCached() throws Exception {
        ProxyConfig c = config("");
        failWith = new IOException("connection refused");
        ClientRefusedException e = assertThrows(ClientRefusedException.class, () -> directory.find(c, "bob", "app", "c"));
        assertEquals(RefusalReason.AUTH_QUERY_FAILED, e.reason());
        assertEquals("08001", e.sqlState());
        failWith = null;
        assertInstanceOf(UserLookup.Known.class, directory.find(c, "bob", "app", "c"));
        assertEquals(2, queried.size());
    }

    @Test
    void loginsMissingTheCacheTogetherShareOneLookup() throws Exception {
        // TTL 0: nothing is served from the cache, so only sharing the running lookup can save a query.
        ProxyConfig c = config("pgproxy.auth-query.cache-ttl = 0s");
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        UserDirectory slow = new UserDirectory((q, db, user, config) -> {
            runs.incrementAndGet();
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            return new UserLookup.Known(new UserConfig(user, AuthMethod.MD5, MD5));
        }, now::get);
        AtomicReference<UserLookup> first = new AtomicReference<>();
        AtomicReference<UserLookup> second = new AtomicReference<>();
        Thread t1 = Thread.ofVirtual().start(() -> first.set(find(slow, c)));
        entered.await();
        Thread t2 = Thread.ofVirtual().start(() -> second.set(find(slow, c)));
        await().atMost(Duration.ofSeconds(10)).until(() -> t2.getState() == Thread.State.WAITING);
        release.countDown();
        t1.join();
        t2.join();
        assertEquals(first.get(), second.get());
        assertEquals(1, runs.get());
        find(slow, c);
        assertEquals(2, runs.get(), "once it is answered, the next login asks again (TTL 0)");
    }

    private static UserLookup find(UserDirectory d, ProxyConfig c) {
        try {
            return d.find(c, "bob", "app", "c");
        } catch (ClientRefusedException e) {
            throw new IllegalStateException(e);
        }
    }
}
