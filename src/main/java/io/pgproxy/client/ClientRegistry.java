package io.pgproxy.client;

import io.pgproxy.pool.RefusalReason;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The live client sessions, by the process id the proxy gave each in its BackendKeyData. A
 * CancelRequest is honoured only when its secret matches, compared in constant time.
 */
public final class ClientRegistry {
    private final ConcurrentHashMap<Integer, ClientSession> byProcessId = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final ConcurrentHashMap<String, AtomicInteger> perDatabase = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> perUser = new ConcurrentHashMap<>();

    /**
     * Counts a logged-in client against the per-database and per-user limits (0 = none), or
     * refuses it (53300) when a limit is reached; an admitted client must be counted out with
     * {@link #leave}.
     */
    void admit(String database, String user, int maxPerDatabase, int maxPerUser) throws ClientRefusedException {
        AtomicInteger db = perDatabase.computeIfAbsent(database, k -> new AtomicInteger());
        if (db.incrementAndGet() > maxPerDatabase && maxPerDatabase > 0) {
            db.decrementAndGet();
            throw new ClientRefusedException(RefusalReason.MAX_DB_CLIENTS, "53300",
                    "too many clients for database \"" + database + "\" (max-db-clients " + maxPerDatabase + ")");
        }
        AtomicInteger u = perUser.computeIfAbsent(user, k -> new AtomicInteger());
        if (u.incrementAndGet() > maxPerUser && maxPerUser > 0) {
            u.decrementAndGet();
            db.decrementAndGet();
            throw new ClientRefusedException(RefusalReason.MAX_USER_CLIENTS, "53300",
                    "too many clients for user \"" + user + "\" (max-user-clients " + maxPerUser + ")");
        }
    }

    void leave(String database, String user) {
        perDatabase.get(database).decrementAndGet();
        perUser.get(user).decrementAndGet();
    }

    /** Registers a session under a fresh, unused process id and returns it. */
    int register(ClientSession session) {
        while (true) {
            int pid = random.nextInt(1, Integer.MAX_VALUE);
            if (byProcessId.putIfAbsent(pid, session) == null) {
                return pid;
            }
        }
    }

    void remove(int processId, ClientSession session) {
        byProcessId.remove(processId, session);
    }

    byte[] newSecret() {
        byte[] secret = new byte[4];
        random.nextBytes(secret);
        return secret;
    }

    /** The session a CancelRequest names, if its key is right. */
    ClientSession forCancel(int processId, byte[] secret) {
        ClientSession s = byProcessId.get(processId);
        if (s == null || !MessageDigest.isEqual(s.secretKey(), secret)) {
            return null;
        }
        return s;
    }

    public Collection<ClientSession> sessions() {
        return byProcessId.values();
    }

    public int size() {
        return byProcessId.size();
    }
}
