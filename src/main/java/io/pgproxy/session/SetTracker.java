package io.pgproxy.session;

import io.pgproxy.protocol.message.TransactionStatus;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Follows the recognised plain SETs and RESETs (see {@link SetStatement}) a transaction-pooled
 * client sends, from the statement text to the moment their effect is certain. A SET takes
 * effect for the session only when its transaction commits: inside a block that rolls back, or
 * in an implicit transaction that an error aborts, PostgreSQL undoes it. So each answered SET or
 * RESET is tentative until the ReadyForQuery that ends its transaction: idle after no error and
 * no ROLLBACK, it is confirmed; otherwise dropped. A ROLLBACK that leaves the block open (ROLLBACK
 * TO SAVEPOINT) may have undone some of them: the session then holds what cannot be followed and
 * is pinned.
 *
 * <p>Called on the backend's reader thread while the client holds the backend; synchronised
 * because the client thread records what it sends.
 */
public final class SetTracker {
    /** A SET or RESET whose effect the tracker follows. */
    public sealed interface Change permits Set, Reset {
    }

    /** {@code SET name = value}. */
    public record Set(SetStatement.Assignment assignment) implements Change {
    }

    /** {@code RESET name} or {@code RESET ALL}. */
    public record Reset(SetStatement.Reset reset) implements Change {
    }

    /** What a ReadyForQuery settled: changes now certain, in order, and whether the session must pin. */
    public record Outcome(List<Change> confirmed, boolean pin) {
        static final Outcome NOTHING = new Outcome(List.of(), false);
    }

    // Sized for the usual nothing: every idle client holds these, and the default 16 slots each
    // were a tenth of an idle client's heap. They grow on the first SET or RESET as before.
    private final ArrayDeque<SetStatement.Sent> sentSets = new ArrayDeque<>(0);
    private final ArrayDeque<SetStatement.Reset> sentResets = new ArrayDeque<>(0);
    private final List<Change> tentative = new ArrayList<>();
    /**
     * Parameters (lower case; {@link #ALL} for every one) a RESET, SET ... TO DEFAULT or DISCARD
     * ALL took to the backend's defaults since they were last taken: the client's defaults are
     * its startup values, which its backend must be given again.
     */
    private final java.util.Set<String> toRepair = new java.util.HashSet<>();
    private static final String ALL = "all";
    /** Read on every ReadyForQuery, so kept outside the lock. */
    private volatile boolean repairPending;
    /** The current transaction failed or was rolled back: its changes will not last. */
    private boolean undone;
    private boolean rolledBack;
    /**
     * An error came while SETs or RESETs sent were unanswered and more replies are owed: a
     * failed one never answers, so later tags could be matched to the wrong statement.
     */
    private boolean lostPairing;

    public synchronized void sent(SetStatement.Sent set) {
        sentSets.add(set);
    }

    public synchronized void sent(SetStatement.Reset reset) {
        sentResets.add(reset);
    }

    /**
     * A CommandComplete "SET": what the oldest statement starting with SET was taken for, now
     * answered; null when no such statement was seen (a SET after other statements in one Query).
     */
    public synchronized SetStatement.Sent onSet() {
        SetStatement.Sent s = sentSets.poll();
        if (s instanceof SetStatement.Assignment a) {
            tentative.add(new Set(a));
        } else if (s instanceof SetStatement.Default d) {
            tentative.add(new Reset(new SetStatement.Reset(d.name())));
            toRepair(d.name());
        }
        return s;
    }

    /** A CommandComplete "RESET": the oldest recognised RESET sent, or null when it was not recognised. */
    public synchronized SetStatement.Reset onReset() {
        SetStatement.Reset r = sentResets.poll();
        if (r != null) {
            tentative.add(new Reset(r));
            toRepair(r.name());
        }
        return r;
    }

    /** A CommandComplete "DISCARD ALL": like RESET ALL (it cannot run inside a transaction, so it lasts). */
    public synchronized void onDiscardAll() {
        tentative.add(new Reset(new SetStatement.Reset(ALL)));
        toRepair(ALL);
    }

    private void toRepair(String name) {
        toRepair.add(name.toLowerCase(java.util.Locale.ROOT));
        repairPending = true;
    }

    /** Whether {@link #takeRepair} has anything; a cheap check on every ReadyForQuery. */
    public boolean repairPending() {
        return repairPending;
    }

    /**
     * The parameters to give back their startup values (null: all of them; empty: none), and
     * forgets them. None after an error: the RESET may have been rolled back with its transaction.
     */
    public synchronized java.util.Set<String> takeRepair() {
        java.util.Set<String> names = undone ? java.util.Set.of()
                : toRepair.contains(ALL) ? null : java.util.Set.copyOf(toRepair);
        toRepair.clear();
        repairPending = false;
        return names;
    }

    /** A CommandComplete "ROLLBACK": the block, or part of it, was undone. */
    public synchronized void onRollback() {
        rolledBack = true;
    }

    /** An ErrorResponse: the statement failed, and its transaction with it. */
    public synchronized void onError() {
        undone = true;
        if (!sentSets.isEmpty() || !sentResets.isEmpty()) {
            lostPairing = true;
        }
    }

    public synchronized Outcome onReadyForQuery(TransactionStatus status, boolean answeredAll) {
        boolean pin = false;
        if (answeredAll) {
            // Replies to SETs that failed never come; what is left belongs to no later statement.
            sentSets.clear();
            sentResets.clear();
            lostPairing = false;
        } else if (lostPairing) {
            pin = true;
            lostPairing = false;
        }
        switch (status) {
            case IDLE -> {
                List<Change> confirmed = undone || rolledBack ? List.of() : List.copyOf(tentative);
                tentative.clear();
                undone = false;
                rolledBack = false;
                return confirmed.isEmpty() && !pin ? Outcome.NOTHING : new Outcome(confirmed, pin);
            }
            case IN_TRANSACTION -> {
                boolean savepointRolledBack = rolledBack && !tentative.isEmpty();
                rolledBack = false;
                // An error inside a block shows as status E; one before ROLLBACK TO SAVEPOINT was
                // recovered from, so only the savepoint question remains.
                undone = false;
                return savepointRolledBack || pin ? new Outcome(List.of(), true) : Outcome.NOTHING;
            }
            default -> {
                undone = true;
                return pin ? new Outcome(List.of(), true) : Outcome.NOTHING;
            }
        }
    }
}
