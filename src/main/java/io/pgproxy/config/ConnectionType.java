package io.pgproxy.config;

/** The first column of a pg_hba.conf line, for TCP connections: which transports a rule covers. */
public enum ConnectionType {
    /** Plaintext and TLS alike. */
    HOST,
    /** TLS connections only. */
    HOSTSSL,
    /** Plaintext connections only. */
    HOSTNOSSL;

    public boolean covers(boolean tls) {
        return switch (this) {
            case HOST -> true;
            case HOSTSSL -> tls;
            case HOSTNOSSL -> !tls;
        };
    }
}
