package io.pgproxy.pool;

/** Why a transaction whose backend died was not replayed: the reason label of its counter. */
public enum ReplayRefusal {
    /** The transaction did not open with BEGIN: a statement may have committed on its own. */
    NO_BEGIN("no-begin"),
    /** A statement ended or controlled the block, held several statements, or was not seen whole. */
    STATEMENT("statement"),
    /** A SET, RESET or pinning statement: session state a replay would apply again. */
    SESSION_STATE("session-state"),
    /** Named prepared statements, which the proxy renames per backend. */
    PREPARED_STATEMENTS("prepared-statements"),
    /** Past failover.replay-max-bytes or replay-max-statements. */
    TOO_LARGE("too-large"),
    /** A COMMIT was in flight: its outcome is unknown (08007), it is never sent twice. */
    COMMIT("commit-in-flight"),
    /** No backend to replay on within the wait. */
    NO_BACKEND("no-backend"),
    /** The replayed replies differ from what the client had received. */
    MISMATCH("mismatch"),
    /** The replay did not catch up within failover.replay-timeout. */
    TIMEOUT("timeout"),
    /** The backend the replay ran on died too. */
    LOST("replay-backend-lost");

    private final String label;

    ReplayRefusal(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
