package io.pgproxy.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What a reload changes. Database and user entries are compared as a whole, so a database whose
 * effective pool size changed because {@code pgproxy.pool.size} changed counts as changed.
 * Changes to {@code limits} and to pool settings that are not copied into databases (timeouts,
 * reset query) are not listed: they take effect by swapping in the new {@link ProxyConfig}.
 */
public record ConfigDiff(Set<String> addedDatabases,
                         Set<String> removedDatabases,
                         Set<String> changedDatabases,
                         Set<String> addedUsers,
                         Set<String> removedUsers,
                         Set<String> changedUsers,
                         List<String> restartRequired) {
    public ConfigDiff {
        addedDatabases = copy(addedDatabases);
        removedDatabases = copy(removedDatabases);
        changedDatabases = copy(changedDatabases);
        addedUsers = copy(addedUsers);
        removedUsers = copy(removedUsers);
        changedUsers = copy(changedUsers);
        restartRequired = List.copyOf(restartRequired);
    }

    public static ConfigDiff between(ProxyConfig previous, ProxyConfig next) {
        Objects.requireNonNull(previous, "previous");
        Objects.requireNonNull(next, "next");
        Set<String> addedDb = new LinkedHashSet<>();
        Set<String> removedDb = new LinkedHashSet<>();
        Set<String> changedDb = new LinkedHashSet<>();
        compare(previous.databases(), next.databases(), addedDb, removedDb, changedDb);
        Set<String> addedU = new LinkedHashSet<>();
        Set<String> removedU = new LinkedHashSet<>();
        Set<String> changedU = new LinkedHashSet<>();
        compare(previous.users(), next.users(), addedU, removedU, changedU);
        // The listening socket is bound once; rebinding would drop connected clients.
        List<String> restart = new ArrayList<>();
        if (!previous.listen().host().equals(next.listen().host())) {
            restart.add("pgproxy.listen.host");
        }
        if (previous.listen().port() != next.listen().port()) {
            restart.add("pgproxy.listen.port");
        }
        // The metrics endpoint is bound once too, and its label slots are handed out for the
        // server's life so that no pool's series moves between label sets.
        if (!previous.metrics().equals(next.metrics())) {
            restart.add("pgproxy.metrics");
        }
        return new ConfigDiff(addedDb, removedDb, changedDb, addedU, removedU, changedU, restart);
    }

    /**
     * The snapshot a reload puts in force: {@code next}, with every restart-only key at its
     * running value. The snapshot in force must describe what runs; if it recorded a refused
     * listen port, the next reload would compare against a port nobody listens on, and putting
     * the real port back would be warned about as a change.
     */
    public static ProxyConfig applicable(ProxyConfig running, ProxyConfig next) {
        if (running.listen().equals(next.listen()) && running.metrics().equals(next.metrics())) {
            return next;
        }
        return new ProxyConfig(running.listen(), next.limits(), next.pool(), next.users(), next.databases(),
                next.statsPeriod(), running.metrics(), next.adminUsers(), next.statsUsers(), next.clientTls(), next.auth(),
                next.failover());
    }

    /** True when no database, user or restart-only key differs. */
    public boolean isEmpty() {
        return addedDatabases.isEmpty() && removedDatabases.isEmpty() && changedDatabases.isEmpty()
                && addedUsers.isEmpty() && removedUsers.isEmpty() && changedUsers.isEmpty()
                && restartRequired.isEmpty();
    }

    private static <V> void compare(Map<String, V> previous, Map<String, V> next,
                                    Set<String> added, Set<String> removed, Set<String> changed) {
        for (Map.Entry<String, V> e : next.entrySet()) {
            V old = previous.get(e.getKey());
            if (old == null) {
                added.add(e.getKey());
            } else if (!old.equals(e.getValue())) {
                changed.add(e.getKey());
            }
        }
        for (String name : previous.keySet()) {
            if (!next.containsKey(name)) {
                removed.add(name);
            }
        }
    }

    // Set.copyOf would scramble the order, and reload logs read better in file order.
    private static Set<String> copy(Set<String> set) {
        return Collections.unmodifiableSet(new LinkedHashSet<>(Objects.requireNonNull(set)));
    }
}
