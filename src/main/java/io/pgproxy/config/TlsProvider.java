package io.pgproxy.config;

/**
 * Whose TLS runs the handshakes and the record encryption: the JDK's own (SunJSSE, patched
 * with the JDK), or Conscrypt's (Google's BoringSSL through JNI), whose handshakes cost a
 * fraction of the JDK's CPU (BENCHMARKS.md §14) but whose BoringSSL is the one its release
 * was built with.
 */
public enum TlsProvider {
    JDK,
    CONSCRYPT
}
