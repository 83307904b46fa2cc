/**
 * Password authentication for the proxy: SCRAM-SHA-256 and md5 on both sides of the proxy
 * (verifying connecting clients, authenticating to backends), SCRAM-SHA-256-PLUS channel binding
 * and cleartext checks for clients, plus the {@code passwd} command that produces verifiers for
 * the configuration.
 */
package io.pgproxy.auth;
