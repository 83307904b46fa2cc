package io.pgproxy.pool;

import java.util.function.BooleanSupplier;

/**
 * The two connection budgets a pool opens backends within, the database's and the backend
 * user's, each shared with other pools. A connection takes from both or from neither.
 */
final class PoolBudgets {
    private final String pool;
    private final ConnectionBudget database;
    private final ConnectionBudget user;
    private final BooleanSupplier evictElsewhere;
    private final Runnable timedOut;

    PoolBudgets(String pool, ConnectionBudget database, ConnectionBudget user, BooleanSupplier evictElsewhere,
                Runnable timedOut) {
        this.pool = pool;
        this.database = database;
        this.user = user;
        this.evictElsewhere = evictElsewhere;
        this.timedOut = timedOut;
    }

    /** Room for one more connection in both budgets, waiting until the deadline; 53300 otherwise. */
    void take(long deadline) throws PoolExhaustedException {
        take(database, deadline, "database");
        try {
            take(user, deadline, "user");
        } catch (PoolExhaustedException e) {
            database.give();
            throw e;
        }
    }

    /** A connection closed (or never opened): its room goes back to both budgets. */
    void give() {
        database.give();
        user.give();
    }

    private void take(ConnectionBudget budget, long deadline, String what) throws PoolExhaustedException {
        if (budget.tryTake()) {
            return;
        }
        // Room held by an idle connection of another pool is better used here.
        evictElsewhere.getAsBoolean();
        try {
            if (budget.take(deadline)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timedOut.run();
        throw new PoolExhaustedException("no backend connection available for \"" + pool
                + "\": the " + what + " connection limit is reached");
    }
}
