package io.pgproxy.backend;

/**
 * Bounds on what a backend may make the proxy read and compute while it logs in: the SCRAM
 * iteration count, the server's part of the SCRAM nonce, and any message before ReadyForQuery.
 */
public record BackendAuthLimits(int maxScramIterations, int maxScramNonceLength, int maxMessageSize) {
    public BackendAuthLimits {
        if (maxScramIterations < 1 || maxScramNonceLength < 1 || maxMessageSize < 1024) {
            throw new IllegalArgumentException("backend auth limits out of range");
        }
    }
}
