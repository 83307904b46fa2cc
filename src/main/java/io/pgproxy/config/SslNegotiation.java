package io.pgproxy.config;

/** libpq's {@code sslnegotiation}: how a TLS connection to a backend begins. */
public enum SslNegotiation {
    /** An SSLRequest first; the backend answers S or N (every PostgreSQL version). */
    POSTGRES,
    /** The TLS handshake at once, with ALPN "postgresql" (PostgreSQL 17 and later). */
    DIRECT
}
