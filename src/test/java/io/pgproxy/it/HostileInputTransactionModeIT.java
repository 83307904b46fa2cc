package io.pgproxy.it;

import io.pgproxy.fixtures.PostgresFixture;
import io.pgproxy.fixtures.ProxyFixture;
import org.junit.jupiter.api.BeforeAll;

import java.sql.SQLException;

import static io.pgproxy.fixtures.PostgresFixture.MD5_PW;
import static io.pgproxy.fixtures.PostgresFixture.MD5_USER;

/**
 * Every hostile-input case again with transaction pooling, where requests are looked at more
 * closely (statement peeks, SET tracking, buffers deferred to a larger one) and backends are
 * shared between transactions.
 */
class HostileInputTransactionModeIT extends HostileInputIT {
    // Hides HostileInputIT.start(): same fixtures, transaction mode.
    @BeforeAll
    static void start(PostgresFixture database) throws SQLException {
        pg = database;
        String tx = "pgproxy.pool.mode = transaction\n";
        proxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + tx + "pgproxy.pool.size = 1\n");
        shortTimeoutProxy = ProxyFixture.start(ProxyFixture.standardConfig(pg) + tx
                + "pgproxy.limits.startup-timeout = 1s\n");
        bystander = proxy.connect(MD5_USER, MD5_PW, "app_md5");
        bystanderPid = backendPid(bystander);
    }
}
