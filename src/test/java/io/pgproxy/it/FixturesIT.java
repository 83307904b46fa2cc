package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.SharedPostgres;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static io.pgproxy.fixtures.PostgresFixture.*;
import static org.junit.jupiter.api.Assertions.*;

/** The PostgreSQL fixture itself, without the proxy: each role logs in with the method pg_hba gives it. */
@Timeout(120)
@ExtendWith(SharedPostgres.class)
class FixturesIT {

    static PostgresFixture pg;

    @BeforeAll
    static void startPostgres(PostgresFixture database) {
        pg = database;
    }

    @Test
    void storedSecretsHaveTheExpectedFormats() {
        assertTrue(pg.scramVerifier(SCRAM_USER).matches("SCRAM-SHA-256\\$4096:[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+"),
                pg.scramVerifier(SCRAM_USER));
        assertTrue(pg.md5Hash(MD5_USER).matches("md5[0-9a-f]{32}"));
    }

    @Test
    void hbaGivesEachRoleItsMethod() throws SQLException {
        try (Connection c = pg.superuser(pg.db()); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT user_name[1], auth_method FROM pg_hba_file_rules "
                     + "WHERE type = 'host' AND address = '0.0.0.0' ORDER BY line_number")) {
            StringBuilder rules = new StringBuilder();
            while (rs.next()) rules.append(rs.getString(1)).append('=').append(rs.getString(2)).append(' ');
            assertEquals("scram_user=scram-sha-256 md5_user=md5 clear_user=password trust_user=trust postgres=trust ",
                    rules.toString());
        }
    }

    @Test
    void everyRoleLogsInWithItsPasswordAndIsRefusedWithAWrongOne() throws SQLException {
        for (String[] up : new String[][] {{SCRAM_USER, SCRAM_PW}, {MD5_USER, MD5_PW}, {CLEAR_USER, CLEAR_PW}}) {
            try (Connection c = pg.direct(up[0], up[1], pg.db()); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT current_user, current_database()")) {
                assertTrue(rs.next());
                assertEquals(up[0], rs.getString(1));
                assertEquals(pg.db(), rs.getString(2));
            }
            SQLException e = assertThrows(SQLException.class, () -> pg.direct(up[0], "wrong", pg.db()).close());
            assertEquals("28P01", e.getSQLState(), up[0]);
        }
        try (Connection c = pg.direct(TRUST_USER, null, pg.db()); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE fixture_probe(x int)");
            st.execute("DROP TABLE fixture_probe");
        }
    }
}
