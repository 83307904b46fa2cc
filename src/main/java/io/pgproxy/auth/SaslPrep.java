package io.pgproxy.auth;

import com.ongres.stringprep.Profile;
import com.ongres.stringprep.Stringprep;

/**
 * PostgreSQL's pg_saslprep: RFC 4013 SASLprep with RFC 3454's tables (Unicode 3.2), for stored
 * strings (unassigned code points prohibited), as PostgreSQL applies it to SCRAM passwords. Like
 * PostgreSQL, a password SASLprep rejects is used unchanged rather than refused, and a pure ASCII
 * one is not prepared at all (control characters included), so verifiers made here match the
 * server's.
 */
final class SaslPrep {
    private static final Profile SASLPREP = Stringprep.getProvider("SASLprep");

    private SaslPrep() {
    }

    static String prepare(String password) {
        if (password.chars().allMatch(c -> c < 0x80)) {
            return password;
        }
        try {
            String prepared = SASLPREP.prepareStored(password);
            // PostgreSQL treats an empty result as a failure too, and keeps the raw password.
            return prepared.isEmpty() ? password : prepared;
        } catch (IllegalArgumentException prohibited) {
            return password;
        }
    }
}
