package io.pgproxy.session;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the proxy knows of the session state on one backend connection: whose session it
 * carries, which client parameter state it was last brought to, and the values the proxy set
 * there that the backend does not report. Read and changed by the {@link SessionTracker} of
 * the client holding the backend, and reset by the pool between clients.
 */
public final class BackendSession {
    /** Whose session a backend carries, when it is not a known client's. */
    public enum Carrier {
        /** As it logged in (new, or reset with DISCARD ALL). */
        NOBODY,
        /** A client's, named by {@link #owner()}. */
        CLIENT,
        /** Unknown: a reset query other than DISCARD ALL ran, or the owner could not be vouched for. */
        UNKNOWN
    }

    private final Map<String, String> reported;
    private final Map<String, String> baseline;
    private final Map<String, String> assumed = new ConcurrentHashMap<>();
    private volatile Carrier carrier = Carrier.NOBODY;
    private volatile SessionParameters owner;
    private volatile SessionParameters.State applied;
    private volatile boolean forgotten;

    /**
     * @param reported the backend's parameters as it reports them (kept up to date by its reader)
     * @param baseline what it reported at login: its values after SET SESSION AUTHORIZATION DEFAULT and RESET ALL
     */
    public BackendSession(Map<String, String> reported, Map<String, String> baseline) {
        this.reported = reported;
        this.baseline = Map.copyOf(baseline);
    }

    /** The run-time parameters as the backend last reported them. */
    public Map<String, String> reported() {
        return reported;
    }

    public Map<String, String> baseline() {
        return baseline;
    }

    /** Values the proxy set for parameters the backend does not report. */
    Map<String, String> assumed() {
        return assumed;
    }

    public Carrier carrier() {
        return carrier;
    }

    /** The client whose session the backend carries when {@link #carrier()} is CLIENT. */
    SessionParameters owner() {
        return owner;
    }

    SessionParameters.State applied() {
        return applied;
    }

    /** Now carries {@code client}'s session, brought to {@code state}. */
    void broughtTo(SessionParameters client, SessionParameters.State state) {
        this.owner = client;
        this.carrier = Carrier.CLIENT;
        this.applied = state;
        this.forgotten = false;
    }

    /**
     * A client leaves the backend holding its parameter state, unless that state became unknown
     * during the lease (RESET ALL, DISCARD ALL): then the next client's values are set anew.
     * Whatever else the client changed stays too, so the backend is now that client's.
     */
    void leftBy(SessionParameters client, SessionParameters.State state) {
        if (!forgotten) {
            this.applied = state;
        }
        this.owner = client;
        this.carrier = Carrier.CLIENT;
    }

    /** Forgets what the proxy set here (a reset, RESET ALL, DISCARD ALL). */
    public void forget() {
        assumed.clear();
        applied = null;
        forgotten = true;
    }

    /** The pool reset the backend: with DISCARD ALL it is as it logged in, otherwise nobody can vouch for it. */
    public void reset(boolean asLoggedIn) {
        forget();
        owner = null;
        carrier = asLoggedIn ? Carrier.NOBODY : Carrier.UNKNOWN;
    }
}
