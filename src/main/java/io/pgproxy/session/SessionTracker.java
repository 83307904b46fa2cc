package io.pgproxy.session;

import io.pgproxy.protocol.message.TransactionStatus;

import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * One client's session state as the proxy follows it in transaction pooling, without parsing
 * SQL: its parameters, its pins, the SETs and RESETs waiting for their transaction's end, and
 * what it assumes of the backend it holds. It answers each protocol event (a run sent,
 * CommandComplete, ParameterStatus, ErrorResponse, ReadyForQuery) with a {@link Decision} the
 * client session carries out; it touches no socket, so literal message sequences test it.
 *
 * <p>Events arrive on two threads (requests on the client's, replies on the backend reader's),
 * so every method is synchronized; none blocks.
 */
public final class SessionTracker {
    /**
     * What an event asks of the client session.
     *
     * @param pins          pin reasons taken by this event for the first time in the session (counted once each)
     * @param pinnedNow     the session became pinned with this event
     * @param forgetBackend what the proxy set on the backend is unknown now (a RESET, DISCARD ALL)
     * @param dropStatements the backend dropped every prepared statement (DISCARD ALL, DEALLOCATE ALL)
     * @param refuseBlock   a transaction block opened in statement pooling: the client must be closed
     */
    public record Decision(Set<PinReason> pins, boolean pinnedNow, boolean forgetBackend, boolean dropStatements,
                           boolean refuseBlock) {
        public static final Decision NONE = new Decision(Set.of(), false, false, false, false);

        boolean isNone() {
            return pins.isEmpty() && !forgetBackend && !dropStatements && !refuseBlock;
        }
    }

    /**
     * The hidden batch that brings a backend to this session (null when only the client's view
     * needs correcting), and what it changes. A sync may be reused: send {@link #messages()}.
     */
    public record Sync(ByteBuffer batch, boolean reset, Map<String, String> diff) {
        /** The batch to send, positioned at its start. */
        public ByteBuffer messages() {
            return batch.duplicate();
        }
    }

    private final SessionParameters parameters;
    private final BooleanSupplier resetsBackends;
    private final boolean transactionMode;
    private final boolean statementMode;
    private final PinDetector pins = new PinDetector();
    private final SetTracker sets = new SetTracker();
    /**
     * Parameters (lower case) set by tracked plain SETs since the backend last settled: their
     * ParameterStatus answers those SETs, so it must not vouch for an untracked one.
     */
    private final Set<String> trackedSince = new HashSet<>();
    private PinReason pinned;
    /** The last reset sync built, for the state and backend login values it was built for. */
    private Sync lastReset;
    private SessionParameters.State lastResetState;
    private Map<String, String> lastResetBaseline;
    /** Event-local scratch, turned into a {@link Decision} at the event's end. */
    private EnumSet<PinReason> newPins;
    private boolean pinnedNow;

    public SessionTracker(SessionParameters parameters, boolean transactionMode, boolean statementMode) {
        this(parameters, transactionMode, statementMode, () -> true);
    }

    /** @param resetsBackends whether a backend another client used is reset first (pool.session-isolation, reloadable) */
    public SessionTracker(SessionParameters parameters, boolean transactionMode, boolean statementMode,
                         BooleanSupplier resetsBackends) {
        this.resetsBackends = resetsBackends;
        this.parameters = parameters;
        this.transactionMode = transactionMode;
        this.statementMode = statementMode;
    }

    public SessionParameters parameters() {
        return parameters;
    }

    /** Why the session is pinned, or null. */
    public synchronized PinReason pinned() {
        return pinned;
    }

    // ---------------------------------------------------------------- requests

    /** A run is about to be sent: a pin its statement texts revealed, and its SETs and RESETs in order. */
    public synchronized Decision sent(PinReason pin, List<SetStatement.Sent> setStatements,
                                      List<SetStatement.Reset> resets) {
        setStatements.forEach(sets::sent);
        resets.forEach(sets::sent);
        if (pin != null) {
            pin(pin);
        }
        return decision(false, false, false);
    }

    // ---------------------------------------------------------------- replies

    public synchronized void onParameterStatus(String name, String value) {
        parameters.observe(name, value);
        if (!trackedSince.contains(name.toLowerCase(Locale.ROOT))) {
            pins.onParameterStatus();
        }
    }

    public synchronized void onError() {
        sets.onError();
    }

    /** A CommandComplete with this tag passed by. */
    public synchronized Decision onCommandComplete(String tag) {
        if (tag.equals("SET")) {
            SetStatement.Sent sent = sets.onSet();
            if (sent instanceof SetStatement.Assignment set) {
                // A plain SET: followed from its commit on; its report, if any, answers it and
                // vouches for no other SET.
                trackedSince.add(set.name().toLowerCase(Locale.ROOT));
                return Decision.NONE;
            }
            if (sent instanceof SetStatement.Default d) {
                trackedSince.add(d.name().toLowerCase(Locale.ROOT));
                return decision(true, false, false);
            }
            if (sent instanceof SetStatement.Local) {
                return Decision.NONE;
            }
        }
        if (tag.equals("ROLLBACK")) {
            sets.onRollback();
        }
        PinReason r = pins.onCommandComplete(tag);
        if (r != null) {
            pin(r);
        }
        boolean drop = tag.equals("DISCARD ALL") || tag.equals("DEALLOCATE ALL");
        boolean forget = false;
        if (tag.equals("DISCARD ALL")) {
            sets.onDiscardAll();
            forget = true;
        } else if (tag.equals("RESET")) {
            if (sets.onReset() == null) {
                // A RESET the look did not recognise: what it reset cannot be followed.
                pin(PinReason.UNTRACKED_SET);
            }
            forget = true;
        }
        return decision(forget, drop, false);
    }

    /**
     * A ReadyForQuery with this status was read, before the client sees it; {@code answeredAll}
     * when nothing else is owed. The pin decision for what was sent so far is made here, so
     * whatever the client sends next already finds it taken; SETs whose transaction committed
     * now follow the client (and, unreported, are assumed on {@code backend}).
     */
    public synchronized Decision onReadyForQuery(TransactionStatus status, boolean answeredAll, BackendSession backend) {
        boolean refuse = statementMode && status != TransactionStatus.IDLE;
        if (!transactionMode) {
            return refuse ? decision(false, false, true) : Decision.NONE;
        }
        if (answeredAll) {
            PinReason r = pins.onSettled(status == TransactionStatus.IDLE);
            if (status == TransactionStatus.IDLE && parameters.identityChanged()) {
                // SET SESSION AUTHORIZATION, or a role across superuser, outlived its transaction:
                // the backend runs as someone else, which no other backend is made to do for it.
                r = PinReason.IDENTITY;
            }
            trackedSince.clear();
            if (r != null) {
                pin(r);
            }
        }
        SetTracker.Outcome o = sets.onReadyForQuery(status, answeredAll);
        if (o.pin()) {
            pin(PinReason.UNTRACKED_SET);
        }
        for (SetTracker.Change change : o.confirmed()) {
            confirm(change, backend);
        }
        return decision(false, false, refuse);
    }

    private void confirm(SetTracker.Change change, BackendSession backend) {
        switch (change) {
            case SetTracker.Set(SetStatement.Assignment set) -> {
                parameters.track(set.name(), set.value());
                if (backend != null && !parameters.isReported(set.name())) {
                    backend.assumed().put(set.name(), set.value());
                }
            }
            case SetTracker.Reset(SetStatement.Reset reset) -> {
                if (reset.all()) {
                    parameters.resetAll();
                } else {
                    parameters.reset(reset.name());
                }
            }
        }
    }

    /**
     * At a settle: a pinned session whose pins are all gone (DISCARD ALL, DEALLOCATE ALL) with
     * its backend outside a transaction is unpinned. True when that happened now.
     */
    public synchronized boolean unpinIfFree(TransactionStatus status) {
        if (pinned != null && status == TransactionStatus.IDLE && pins.holdsNothing()) {
            pinned = null;
            return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- parameter repair after RESET

    /** Whether {@link #repairBatch} may have something to run; cheap. */
    public boolean repairPending() {
        return sets.repairPending();
    }

    /** The client's startup values for what a RESET took to the backend's defaults, as a hidden batch; null if none. */
    public synchronized ByteBuffer repairBatch(TransactionStatus status) {
        Set<String> names = sets.takeRepair();
        // A failed block would refuse the batch, and its RESET is undone with it anyway.
        Map<String, String> values = status == TransactionStatus.FAILED || (names != null && names.isEmpty())
                ? Map.of() : parameters.startupValues(names);
        return values.isEmpty() ? null : SessionParameters.setBatch(values);
    }

    /** The repair ran and the backend reported these values: the client is told them as reported. */
    public synchronized void repaired(Map<String, String> reported) {
        reported.forEach(parameters::observe);
    }

    // ---------------------------------------------------------------- bringing a backend to this session

    /**
     * What brings {@code backend} to this session in at most one hidden round trip, or null
     * when it is there already. A backend that carries another client's session is first taken
     * back to its login state, since no protocol signal reveals everything a client can change
     * (a function's set_config, a SET ROLE); then only the values that differ are set.
     */
    public synchronized Sync syncFor(BackendSession backend) {
        BackendSession.Carrier carrier = backend.carrier();
        // Unknown (a reset query other than DISCARD ALL ran) is reset whatever the setting.
        boolean reset = carrier == BackendSession.Carrier.UNKNOWN || carrier == BackendSession.Carrier.CLIENT
                && backend.owner() != parameters && resetsBackends.getAsBoolean();
        SessionParameters.State state = parameters.state();
        if (!reset && state.sameAs(backend.applied())) {
            backend.broughtTo(parameters, backend.applied());
            return null;
        }
        if (reset) {
            // Under load nearly every transaction lands on a backend another client left, with
            // the same state and the same login values: the batch is built once for both.
            if (lastReset != null && state.sameAs(lastResetState) && backend.baseline().equals(lastResetBaseline)) {
                return lastReset;
            }
            Map<String, String> diff = parameters.diff(backend.baseline(), Map.of());
            lastReset = new Sync(SessionParameters.setBatch(diff, true).asReadOnlyBuffer(), true, diff);
            lastResetState = state;
            lastResetBaseline = backend.baseline();
            return lastReset;
        }
        Map<String, String> diff = parameters.diff(backend.reported(), backend.assumed());
        return new Sync(!diff.isEmpty() ? SessionParameters.setBatch(diff, false) : null, false, diff);
    }

    /** The sync batch, if any, is on its way to {@code backend}, ahead of the client's run. */
    public synchronized void synced(BackendSession backend, Sync sync) {
        if (sync.reset()) {
            backend.assumed().clear();
        }
        sync.diff().forEach((k, v) -> {
            if (v == null) {
                backend.assumed().remove(k);
            } else if (!backend.reported().containsKey(k)) {
                backend.assumed().put(k, v);
            }
        });
        backend.broughtTo(parameters, parameters.state());
    }

    /** Values the backend reports differently than the client was told: ParameterStatus to send it. */
    public synchronized Map<String, String> corrections(BackendSession backend) {
        return parameters.corrections(backend.reported());
    }

    /** The lease ended at a settle: the backend holds exactly this client's changes. */
    public synchronized void left(BackendSession backend) {
        backend.leftBy(parameters, parameters.state());
    }

    // ---------------------------------------------------------------- pins

    private void pin(PinReason reason) {
        if (!transactionMode || !pins.hold(reason)) {
            return;
        }
        if (newPins == null) {
            newPins = EnumSet.noneOf(PinReason.class);
        }
        newPins.add(reason);
        if (pinned == null) {
            pinned = reason;
            pinnedNow = true;
        }
    }

    private Decision decision(boolean forget, boolean drop, boolean refuse) {
        Set<PinReason> taken = newPins == null ? Set.of() : Set.copyOf(newPins);
        boolean now = pinnedNow;
        newPins = null;
        pinnedNow = false;
        Decision d = new Decision(taken, now, forget, drop, refuse);
        return d.isNone() ? Decision.NONE : d;
    }
}
