package io.pgproxy.it;

import io.pgproxy.auth.ScramVerifier;
import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * pgproxy prepares a SCRAM password exactly as PostgreSQL does: for passwords that SASLprep
 * maps, normalises or rejects, the verifier PostgreSQL stores for the password and the one
 * pgproxy computes with the same salt and iteration count are the same. Both the backend login
 * (the proxy proving a configured password) and `bin/pgproxy passwd` depend on it.
 */
@ExtendWith(SharedPostgres.class)
class SaslPrepIT {
    private static PostgresFixture pg;

    @BeforeAll
    static void start(PostgresFixture database) {
        pg = database;
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "I\u00adX",                 // mapped to nothing
            "\u2168\u00aa-p\u00e4ss",   // NFKC: roman numeral nine, feminine ordinal
            "caf\u0065\u0301",          // combining accent composed
            "a\u00a0b\u3000c",          // non-ASCII spaces mapped to SPACE
            "\u05d0a\u05d0",            // bidi violation: used raw
            "p\u00e4ss\ue000",          // private use: prohibited, used raw
            "I\u00adX\u0221",           // unassigned in Unicode 3.2: prohibited, so the soft hyphen stays
            "\u043f\u0430\u0440\u043e\u043b\u044c", // Cyrillic, unchanged
            "ascii\tcontrol\u0007"      // ASCII: never prepared
    })
    void theVerifierMatchesPostgres(String password) throws SQLException {
        String stored;
        try (Connection c = pg.superuser(pg.db()); Statement s = c.createStatement()) {
            s.execute("SET password_encryption = 'scram-sha-256'");
            s.execute("DROP ROLE IF EXISTS saslprep_probe");
            // The password as a literal: CREATE ROLE takes no bind parameters.
            s.execute("CREATE ROLE saslprep_probe NOLOGIN PASSWORD '" + password.replace("'", "''") + "'");
            try (PreparedStatement p = c.prepareStatement("SELECT rolpassword FROM pg_authid WHERE rolname = 'saslprep_probe'");
                 ResultSet rs = p.executeQuery()) {
                rs.next();
                stored = rs.getString(1);
            } finally {
                s.execute("DROP ROLE saslprep_probe");
            }
        }
        // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
        String[] head = stored.substring("SCRAM-SHA-256$".length(), stored.indexOf('$', "SCRAM-SHA-256$".length())).split(":");
        ScramVerifier ours = ScramVerifier.fromPassword(password, Integer.parseInt(head[0]), Base64.getDecoder().decode(head[1]));
        assertEquals(ScramVerifier.parse(stored), ours, "verifier of " + password.codePoints().mapToObj(Integer::toHexString).toList());
    }
}
