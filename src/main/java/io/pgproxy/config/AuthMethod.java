package io.pgproxy.config;

/** How the proxy authenticates a client. */
public enum AuthMethod {
    SCRAM_SHA_256,
    MD5,
    TRUST
}
