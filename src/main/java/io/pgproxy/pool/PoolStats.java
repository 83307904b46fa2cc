package io.pgproxy.pool;

import io.pgproxy.session.PinReason;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What flowed through one pool since it was created: the figures PgBouncer's {@code SHOW STATS}
 * reports per database, and the pins taken by its clients. Recorded by the clients on the
 * relay path (a {@link LongAdder} add each, no lock), read by the admin console, the metrics
 * exposition and the stats log line. One instance per pool, so two servers in one JVM never
 * share figures.
 */
public final class PoolStats {
    private final LongAdder transactions = new LongAdder();
    private final LongAdder queries = new LongAdder();
    private final LongAdder received = new LongAdder();
    private final LongAdder sent = new LongAdder();
    private final LongAdder transactionMicros = new LongAdder();
    private final LongAdder queryMicros = new LongAdder();
    private final LongAdder waitMicros = new LongAdder();
    private final LongAdder unpins = new LongAdder();
    /** Requests or transactions that lost their backend and were answered 08006 with the session kept. */
    private final LongAdder aborted = new LongAdder();
    /** Sessions a lost backend ended: a half-relayed reply, a FATAL already passed on, or a pin. */
    private final LongAdder sessionsLost = new LongAdder();
    private final LongAdder sessionsMoved = new LongAdder();
    private final LongAdder requestsRefused = new LongAdder();
    private final LongAdder replays = new LongAdder();
    private final LongAdder replaysMatched = new LongAdder();
    private final LongAdder[] replaysRefused = new LongAdder[ReplayRefusal.values().length];
    private final EnumMap<PinReason, LongAdder> pins = new EnumMap<>(PinReason.class);
    private final LatencyHistogram transactionTimes = new LatencyHistogram();
    private final LatencyHistogram queryTimes = new LatencyHistogram();
    private final LatencyHistogram waitTimes = new LatencyHistogram();
    /** The same waits at microsecond precision, per stats period: the stats log line's percentiles. */
    private final Recorder waitPeriod = new Recorder(3);

    public PoolStats() {
        for (int i = 0; i < replaysRefused.length; i++) {
            replaysRefused[i] = new LongAdder();
        }
        for (PinReason r : PinReason.values()) {
            pins.put(r, new LongAdder());
        }
    }

    /** A transaction (or a statement outside one) ended after {@code micros}. */
    public void transaction(long micros) {
        transactions.increment();
        transactionMicros.add(micros);
        transactionTimes.record(micros);
    }

    /** A request was answered (its ReadyForQuery arrived) after {@code micros}. */
    public void query(long micros) {
        queries.increment();
        queryMicros.add(micros);
        queryTimes.record(micros);
    }

    /** Bytes read from clients. */
    public void received(long bytes) {
        received.add(bytes);
    }

    /** Bytes written to clients. */
    public void sent(long bytes) {
        sent.add(bytes);
    }

    /** A client waited this long for a backend. */
    public void waited(long micros) {
        waitMicros.add(micros);
        waitTimes.record(micros);
        waitPeriod.recordValue(micros);
    }

    /** Waits since the last call, in microseconds; the caller owns the histogram. */
    public Histogram takeWaitHistogram() {
        return waitPeriod.getIntervalHistogram();
    }

    /** A session was pinned to its backend for this reason (once per session and reason). */
    /** A client's backend died under a request or open transaction; the client keeps its session. */
    public void aborted() {
        aborted.increment();
    }

    public long abortedTotal() {
        return aborted.sum();
    }

    /** A client's backend died and took the session with it. */
    public void sessionLost() {
        sessionsLost.increment();
    }

    public long sessionsLostTotal() {
        return sessionsLost.sum();
    }

    /**
     * A session kept going after the backend it held was lost or taken from it (a failover, a
     * switchover past its bound), or left it to move (session pooling on a cluster).
     */
    public void sessionMoved() {
        sessionsMoved.increment();
    }

    public long sessionsMovedTotal() {
        return sessionsMoved.sum();
    }

    /**
     * No backend could be leased for a client's request (none reachable, none primary in time,
     * the login refused): the request got that error and the session went on.
     */
    public void requestRefused() {
        requestsRefused.increment();
    }

    public long requestsRefusedTotal() {
        return requestsRefused.sum();
    }

    /** A transaction whose backend died was run again on another. */
    public void replayed() {
        replays.increment();
    }

    /** ... and every reply the client had received came again the same: the client carried on. */
    public void replayMatched() {
        replaysMatched.increment();
    }

    /** A transaction whose backend died was not replayed, or its replay was given up. */
    public void replayRefused(ReplayRefusal why) {
        replaysRefused[why.ordinal()].increment();
    }

    public long replaysTotal() {
        return replays.sum();
    }

    public long replaysMatchedTotal() {
        return replaysMatched.sum();
    }

    /** Refusals by reason, indexed by {@link ReplayRefusal#ordinal()}. */
    public long[] replaysRefused() {
        long[] n = new long[replaysRefused.length];
        for (int i = 0; i < n.length; i++) {
            n[i] = replaysRefused[i].sum();
        }
        return n;
    }

    public void pinned(PinReason reason) {
        pins.get(reason).increment();
    }

    /** A pinned session let go of every reason and went back to sharing backends. */
    public void unpinned() {
        unpins.increment();
    }

    public long transactions() {
        return transactions.sum();
    }

    public long queries() {
        return queries.sum();
    }

    public long bytesReceived() {
        return received.sum();
    }

    public long bytesSent() {
        return sent.sum();
    }

    public long transactionMicros() {
        return transactionMicros.sum();
    }

    public long queryMicros() {
        return queryMicros.sum();
    }

    public long waitMicros() {
        return waitMicros.sum();
    }

    public long unpins() {
        return unpins.sum();
    }

    /** Durations of transactions (and of statements outside one), since the pool was created. */
    public LatencyHistogram transactionTimes() {
        return transactionTimes;
    }

    /** Durations of requests, from the request to its ReadyForQuery. */
    public LatencyHistogram queryTimes() {
        return queryTimes;
    }

    /** Waits for a backend, including the ones that found one at once (0 µs). */
    public LatencyHistogram waitTimes() {
        return waitTimes;
    }

    /** Sessions pinned, by reason. */
    public Map<PinReason, Long> pins() {
        Map<PinReason, Long> m = new EnumMap<>(PinReason.class);
        pins.forEach((r, n) -> m.put(r, n.sum()));
        return m;
    }
}
