package io.pgproxy.config;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigDiffTest {
    private static final String BASE = """
            pgproxy {
              users { alice { auth = trust }, bob { auth = trust }, carol { auth = trust } }
              databases { a { host = h1 }, b { host = h2 }, c { host = h3 } }
            }
            """;

    @Test
    void identicalConfigsGiveEmptyDiff() throws Exception {
        ConfigDiff d = ConfigDiff.between(ConfigLoader.parse(BASE), ConfigLoader.parse(BASE));
        assertTrue(d.isEmpty(), d.toString());
    }

    @Test
    void addedRemovedAndChangedAreReported() throws Exception {
        ProxyConfig next = ConfigLoader.parse("""
                pgproxy {
                  users { alice { auth = trust }, carol { password = "%s" }, dave { auth = trust } }
                  databases { a { host = h1 }, c { host = h3, port = 5433 }, d { host = h4 } }
                }
                """.formatted(TestSecrets.MD5_HASH));
        ConfigDiff d = ConfigDiff.between(ConfigLoader.parse(BASE), next);
        assertEquals(Set.of("d"), d.addedDatabases());
        assertEquals(Set.of("b"), d.removedDatabases());
        assertEquals(Set.of("c"), d.changedDatabases());
        assertEquals(Set.of("dave"), d.addedUsers());
        assertEquals(Set.of("bob"), d.removedUsers());
        assertEquals(Set.of("carol"), d.changedUsers());
        assertEquals(List.of(), d.restartRequired());
        assertFalse(d.isEmpty());
    }

    @Test
    void poolDefaultChangeMarksDatabasesUsingItAsChanged() throws Exception {
        ProxyConfig next = ConfigLoader.parse(BASE + "pgproxy.pool.size = 5\npgproxy.databases.a.pool-size = 20");
        ConfigDiff d = ConfigDiff.between(ConfigLoader.parse(BASE), next);
        assertEquals(Set.of("b", "c"), d.changedDatabases());
    }

    @Test
    void listenChangesRequireRestart() throws Exception {
        ProxyConfig next = ConfigLoader.parse(BASE + "pgproxy.listen { host = \"0.0.0.0\", port = 7432 }");
        ConfigDiff d = ConfigDiff.between(ConfigLoader.parse(BASE), next);
        assertEquals(List.of("pgproxy.listen.host", "pgproxy.listen.port"), d.restartRequired());
        assertFalse(d.isEmpty());

        d = ConfigDiff.between(ConfigLoader.parse(BASE), ConfigLoader.parse(BASE + "pgproxy.listen.port = 7432"));
        assertEquals(List.of("pgproxy.listen.port"), d.restartRequired());
        assertTrue(d.addedDatabases().isEmpty() && d.changedUsers().isEmpty());
    }

    @Test
    void aRefusedListenChangeKeepsTheRunningValueInTheAppliedSnapshot() throws Exception {
        ProxyConfig running = ConfigLoader.parse(BASE + "pgproxy.listen.port = 6432\n");
        ProxyConfig moved = ConfigLoader.parse(BASE.replace("h3", "h9") + "pgproxy.listen.port = 7000\n");
        ConfigDiff refused = ConfigDiff.between(running, moved);
        assertEquals(List.of("pgproxy.listen.port"), refused.restartRequired());

        ProxyConfig applied = ConfigDiff.applicable(running, moved);
        assertEquals(6432, applied.listen().port(), "the port that is bound");
        assertEquals("h9", applied.databases().get("c").host(), "everything else is applied");
        // Putting the real port back is no change at all.
        assertTrue(ConfigDiff.between(applied, ConfigLoader.parse(BASE + "pgproxy.listen.port = 6432\n"))
                .restartRequired().isEmpty());
    }

    @Test
    void metricsChangesRequireRestartAndKeepTheRunningEndpoint() throws Exception {
        ProxyConfig running = ConfigLoader.parse(BASE + "pgproxy.metrics.listen-port = 9432\n");
        ProxyConfig next = ConfigLoader.parse(BASE + "pgproxy.metrics.listen-port = 9433\n");
        assertEquals(List.of("pgproxy.metrics"), ConfigDiff.between(running, next).restartRequired());
        assertEquals(9432, ConfigDiff.applicable(running, next).metrics().listenPort(), "the port that is bound");
    }
}
