/**
 * TLS for both sides of the proxy: certificates and keys from PEM files, the SSL contexts built
 * from them, and what a client's TLS session carries into authentication (its certificate, the
 * channel binding data) and into the admin console (version, cipher).
 */
package io.pgproxy.tls;
