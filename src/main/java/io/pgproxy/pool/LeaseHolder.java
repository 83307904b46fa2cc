package io.pgproxy.pool;

/** The client a {@link Lease} serves, as the lease needs it when its backend settles. */
public interface LeaseHolder {
    /**
     * Whether the backend may go back to the pool now that it settled between transactions:
     * false in session pooling, while pinned, or while closing. Called on the backend's reader
     * thread, under the lease's lock.
     */
    boolean mayReturnAtSettle();

    /** The lease ended at a settle and its backend went back to the pool. Called under the lease's lock. */
    void returned(Lease lease);
}
