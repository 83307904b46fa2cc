package io.pgproxy.client;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Collection;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The live client sessions, by the process id the proxy gave each in its BackendKeyData. A
 * CancelRequest is honoured only when its secret matches, compared in constant time.
 */
public final class ClientRegistry {
    private final ConcurrentHashMap<Integer, ClientSession> byProcessId = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

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
