package io.pgproxy.client;

import io.pgproxy.config.AuthConfig;
import io.pgproxy.config.AuthMethod;
import io.pgproxy.config.AuthRule;
import io.pgproxy.config.UserConfig;
import io.pgproxy.pool.RefusalReason;
import io.pgproxy.tls.ClientTls;

import java.net.InetAddress;
import java.util.List;

/**
 * The decisions of a login that need no exchange with the client, as PostgreSQL's hba.c and
 * auth.c make them: which rule applies, which method a user then goes through, whether the
 * connection's transport allows that method, what SASL mechanisms to offer, and whether a client
 * certificate names the user. Each refusal carries PostgreSQL's wording and SQLSTATE.
 */
final class AuthPolicy {
    static final String SCRAM = "SCRAM-SHA-256";
    static final String SCRAM_PLUS = "SCRAM-SHA-256-PLUS";

    private AuthPolicy() {
    }

    /**
     * The first rule covering the connection; null when no rules are configured (each user's own
     * method applies). Refuses when rules exist and none covers it, or the one that does rejects.
     */
    static AuthRule rule(AuthConfig auth, String database, String user, InetAddress address, ClientTls tls)
            throws ClientRefusedException {
        if (auth.rules().isEmpty()) {
            return null;
        }
        AuthRule rule = auth.firstMatch(database, user, address, tls != null);
        if (rule == null) {
            throw new ClientRefusedException(RefusalReason.NO_HBA_ENTRY, "28000",
                    "no pg_hba.conf entry for " + connection(address, user, database, tls));
        }
        if (rule.method() == AuthMethod.REJECT) {
            throw new ClientRefusedException(RefusalReason.HBA_REJECT, "28000",
                    "pg_hba.conf rejects connection for " + connection(address, user, database, tls));
        }
        return rule;
    }

    /** {@code host "10.0.0.1", user "u", database "d", SSL encryption}, as PostgreSQL words it. */
    static String connection(InetAddress address, String user, String database, ClientTls tls) {
        return "host \"" + (address == null ? "[unknown]" : address.getHostAddress()) + "\", user \"" + user
                + "\", database \"" + database + "\", " + (tls != null ? "SSL encryption" : "no encryption");
    }

    /**
     * The method this login goes through: the rule's, or without rules the user's own. As in
     * PostgreSQL, md5 means SCRAM for a user whose secret is a SCRAM verifier, and a user
     * without a usable secret (unknown, none, expired) gets SCRAM, which then fails at the proof.
     */
    static AuthMethod method(AuthRule rule, UserLookup user) {
        UserConfig known = user instanceof UserLookup.Known k ? k.user() : null;
        AuthMethod method = rule != null ? rule.method()
                : known != null ? known.auth() : AuthMethod.SCRAM_SHA_256;
        if (method == AuthMethod.MD5 && (known == null || known.auth() != AuthMethod.MD5)) {
            return AuthMethod.SCRAM_SHA_256;
        }
        return method;
    }

    /** Refuses a method the connection's transport cannot carry safely. */
    static void requireTransport(AuthMethod method, AuthRule rule, ClientTls tls) throws ClientRefusedException {
        if (tls != null) {
            return;
        }
        switch (method) {
            case PASSWORD -> {
                if (rule == null || !rule.allowWithoutTls()) {
                    throw new ClientRefusedException(RefusalReason.TLS_REQUIRED, "28000",
                            "password authentication requires SSL: the hba rule does not allow a cleartext "
                                    + "password over an unencrypted connection");
                }
            }
            case SCRAM_SHA_256_PLUS -> throw new ClientRefusedException(RefusalReason.TLS_REQUIRED, "28000",
                    "SCRAM-SHA-256-PLUS authentication requires SSL");
            case CERT -> throw new ClientRefusedException(RefusalReason.CERTIFICATE, "28000",
                    "connection requires a valid client certificate");
            default -> {
            }
        }
    }

    /** The SASL mechanisms offered: PLUS too whenever TLS is on, PLUS alone for scram-sha-256-plus. */
    static List<String> mechanisms(AuthMethod method, ClientTls tls) {
        if (method == AuthMethod.SCRAM_SHA_256_PLUS) {
            return List.of(SCRAM_PLUS);
        }
        return tls != null ? List.of(SCRAM_PLUS, SCRAM) : List.of(SCRAM);
    }

    /**
     * Method cert: the client's verified certificate must name the user, by its CN or, with
     * the rule's map, by a name the map gives that CN.
     */
    static void checkCertificate(AuthConfig auth, AuthRule rule, ClientTls tls, String user) throws ClientRefusedException {
        if (tls == null || tls.peerCertificates().isEmpty()) {
            throw new ClientRefusedException(RefusalReason.CERTIFICATE, "28000",
                    "connection requires a valid client certificate");
        }
        String cn = tls.peerCommonName();
        if (cn == null || cn.isEmpty()) {
            throw new ClientRefusedException(RefusalReason.CERTIFICATE, "28000", "certificate authentication failed for user \""
                    + user + "\": client certificate contains no user name");
        }
        boolean allowed = rule.map() == null ? cn.equals(user) : auth.identMapAllows(rule.map(), cn, user);
        if (!allowed) {
            throw new ClientRefusedException(RefusalReason.CERTIFICATE, "28000",
                    "certificate authentication failed for user \"" + user + "\"");
        }
    }
}
