package io.pgproxy.client;

import io.pgproxy.config.ClientTlsMode;
import io.pgproxy.config.DatabaseConfig;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.pool.RefusalReason;
import io.pgproxy.tls.ClientTls;

/**
 * What client-tls mode asks of a connection, checked once its StartupMessage names the database
 * and the user: the listener's mode, tightened by the database's. Refusals are 28000, worded as
 * PostgreSQL words its pg_hba and clientcert refusals.
 */
final class TlsRequirement {
    private TlsRequirement() {
    }

    /**
     * @param certificateProblem why the client's certificate was not accepted, or null
     */
    static void check(ProxyConfig config, String database, String user, ClientTls tls, String certificateProblem)
            throws ClientRefusedException {
        DatabaseConfig db = config.databases().get(database);
        ClientTlsMode mode = config.clientTls().mode().atLeast(db == null ? null : db.clientTlsMode());
        if (!mode.requiresTls()) {
            return;
        }
        if (tls == null) {
            throw new ClientRefusedException(RefusalReason.TLS_REQUIRED, "28000",
                    "SSL required: pgproxy accepts only TLS connections for user \"" + user + "\", database \""
                            + database + "\"");
        }
        if (!mode.requiresCertificate()) {
            return;
        }
        if (tls.peerCertificates().isEmpty()) {
            throw new ClientRefusedException(RefusalReason.CERTIFICATE, "28000", certificateProblem == null
                    ? "connection requires a valid client certificate"
                    : "client certificate is not valid: " + certificateProblem);
        }
        if (mode == ClientTlsMode.VERIFY_FULL && !user.equals(tls.peerCommonName())) {
            throw new ClientRefusedException(RefusalReason.CERTIFICATE, "28000",
                    "certificate validation (clientcert=verify-full) failed for user \"" + user
                            + "\": CN mismatch");
        }
    }
}
