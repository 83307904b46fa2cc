package io.pgproxy.client;

import io.pgproxy.protocol.message.TransactionStatus;

/**
 * A client's transaction block that died with its backend, from the loss until the block is
 * failed again on the client's next backend, where the server itself then answers what the
 * client sends (25P02) until its ROLLBACK, as in any failed block. One state, changed only here:
 * the loss is seen on a backend reader's thread, the next request on the client's, and the
 * hidden block's answer on the new backend's reader.
 */
final class LostBlock {
    enum State {
        /** No block was lost, or the lost one is failed again on the client's backend. */
        NONE,
        /** Lost while the client was idle in it: it had only a notice, so its next request gets the error. */
        UNTOLD,
        /** The client knows: its next lease fails a block for it first, hidden. */
        TOLD,
        /** The hidden failing block is on its way; its answer ends this. */
        FAILING
    }

    private State state = State.NONE;
    /** While FAILING: hidden answers (a session batch sent with it) that come before the block's. */
    private int answersBefore;

    /** The backend died; the client's block, if {@code inBlock}, died with it; {@code told}: an error said so. */
    synchronized void lost(boolean inBlock, boolean told) {
        state = !inBlock ? State.NONE : told ? State.TOLD : State.UNTOLD;
    }

    /** True once, when the client's next request is to be answered with the error it has not had yet. */
    synchronized boolean tell() {
        if (state != State.UNTOLD) {
            return false;
        }
        state = State.TOLD;
        return true;
    }

    /** The block is failed for the client and for no backend yet: its ReadyForQuery status is 'E'. */
    synchronized boolean failedForClient() {
        return state == State.UNTOLD || state == State.TOLD;
    }

    /** The status a ReadyForQuery the proxy sends itself, with no backend, reports. */
    TransactionStatus clientStatus() {
        return failedForClient() ? TransactionStatus.FAILED : TransactionStatus.IDLE;
    }

    /**
     * A backend was leased: true when the hidden failing block is to go ahead of the client's
     * run on it, after {@code answersBefore} other hidden answers.
     */
    synchronized boolean failOnLease(int answersBefore) {
        if (state != State.TOLD) {
            return false;
        }
        state = State.FAILING;
        this.answersBefore = answersBefore;
        return true;
    }

    /** A hidden answer came: true when it was the failing block's (its error is the point, not to be acted on). */
    synchronized boolean blockAnswered() {
        if (state != State.FAILING) {
            return false;
        }
        if (answersBefore > 0) {
            answersBefore--;
            return false;
        }
        state = State.NONE;
        return true;
    }

    /** The hidden failing block has not been answered yet. */
    synchronized boolean failing() {
        return state == State.FAILING;
    }
}
