package io.pgproxy.client;

import io.pgproxy.auth.ScramVerifierCache;
import io.pgproxy.buffer.BufferPool;
import io.pgproxy.buffer.SlabBuffers;
import io.pgproxy.config.ProxyConfig;
import io.pgproxy.pool.LeaseManager;
import io.pgproxy.session.StatementRegistry;
import io.pgproxy.tls.ServerTls;

import java.util.function.Supplier;

/**
 * What every client session shares: the current config snapshot and its parsed SCRAM verifiers,
 * the users found by the auth query,
 * the pools, the registry, and the server's counts of refusals and of errors it sent itself, and
 * the virtual database (admin console) or null, and the TLS towards clients of the snapshot in
 * force (null when off).
 */
public record ClientContext(Supplier<ProxyConfig> config, ScramVerifierCache verifiers, UserDirectory users,
                            LeaseManager leases,
                            ClientRegistry registry, BufferPool buffers, SlabBuffers requestBuffers,
                            StatementRegistry statements, ClientCounters counters, VirtualDatabase console,
                            Supplier<ServerTls> tls) {
}
