package io.pgproxy.session;

import java.util.EnumSet;
import java.util.Locale;

/**
 * Decides from protocol signals when a transaction-pooled client must be pinned. Mostly from
 * CommandComplete tags and ParameterStatus, which the backend sends anyway; for the two cases
 * no tag reveals (temporary tables, advisory locks) a cheap look at the first bytes of the
 * statement text. It errs on the side of pinning: a needless pin costs sharing, a missed one
 * would silently break a session.
 *
 * <p>It also keeps which reasons a session holds, so that a pin ends once the state behind it is
 * gone. Only statements that cannot be undone release anything: {@code DISCARD ALL} (it cannot
 * run inside a transaction block, so its tag means it took effect) releases every reason, and
 * {@code DEALLOCATE ALL} (prepared statements are not transactional) the SQL-level PREPARE.
 * Finer signals, such as {@code UNLISTEN *}, {@code DISCARD TEMP} or one {@code DEALLOCATE},
 * could be rolled back or could name a statement the proxy did not see prepared: they keep the
 * pin.
 */
public final class PinDetector {
    /** How far into a statement the keyword look goes. */
    private static final int PEEK_CHARS = 256;
    /**
     * A session-level change of role: SET [SESSION] ROLE, SET SESSION AUTHORIZATION. Only an
     * is_superuser or session_authorization report would reveal it otherwise, and a role
     * between two ordinary users reports nothing. SET LOCAL ROLE ends with its transaction.
     */
    private static final java.util.regex.Pattern IDENTITY_CHANGE =
            java.util.regex.Pattern.compile("set\\s+(?:session\\s+)?(?:role|authorization)\\b");

    private int untrackedSets;
    private int parametersReported;
    private boolean cursorDeclared;
    private final EnumSet<PinReason> held = EnumSet.noneOf(PinReason.class);

    /** A CommandComplete tag of this client's statement; returns a reason to pin now, or null. */
    public synchronized PinReason onCommandComplete(String tag) {
        switch (tag) {
            case "LISTEN" -> {
                return PinReason.LISTEN;
            }
            case "PREPARE" -> {
                return PinReason.SQL_PREPARE;
            }
            case "SET" -> untrackedSets++;
            case "DECLARE CURSOR" -> cursorDeclared = true;
            case "DISCARD ALL" -> held.clear();
            case "DEALLOCATE ALL" -> held.remove(PinReason.SQL_PREPARE);
            default -> {
            }
        }
        return null;
    }

    /** Records that the session holds state of this kind; true if it held none before. */
    public synchronized boolean hold(PinReason reason) {
        return held.add(reason);
    }

    /** Whether the session holds no state that ties it to its backend. */
    public synchronized boolean holdsNothing() {
        return held.isEmpty();
    }

    public synchronized void onParameterStatus() {
        parametersReported++;
    }

    /**
     * Every reply owed has arrived. A SET the proxy did not recognise (see {@link SetStatement})
     * that made the backend report nothing set a parameter the proxy cannot track; a cursor still open once the transaction is over was WITH HOLD.
     * PostgreSQL reports parameters just before ReadyForQuery, hence the decision here.
     */
    public synchronized PinReason onSettled(boolean idle) {
        PinReason r = null;
        // Each SET of a reported parameter brings one ParameterStatus (unless the value did not
        // change, which pins needlessly but safely); more SETs than reports means one was untracked.
        if (untrackedSets > parametersReported) {
            r = PinReason.UNTRACKED_SET;
        } else if (idle && cursorDeclared) {
            r = PinReason.CURSOR_WITH_HOLD;
        }
        untrackedSets = 0;
        parametersReported = 0;
        if (idle) {
            cursorDeclared = false;
        }
        return r;
    }

    /**
     * Whether a statement may deallocate prepared statements (DEALLOCATE, DISCARD ALL), judged
     * from its first 256 characters; errs towards yes. Its command tag is the real signal, but
     * it arrives after statements the client may already have pipelined behind it.
     */
    public static boolean mayDeallocate(String statement) {
        String text = statement.substring(0, Math.min(statement.length(), PEEK_CHARS)).toLowerCase(Locale.ROOT);
        return text.contains("deallocate") || text.contains("discard");
    }

    /**
     * Whether the text calls set_config other than for the transaction alone (a literal
     * {@code true} as its last argument, as PostgREST sends it): a parameter the backend does not
     * report would otherwise change unseen. Reported ones would follow the client anyway, so this
     * errs towards pinning.
     */
    static boolean setsConfigForTheSession(String lowerCaseText) {
        int at = lowerCaseText.indexOf("set_config");
        while (at >= 0) {
            int next = lowerCaseText.indexOf("set_config", at + 1);
            String call = lowerCaseText.substring(at, next < 0 ? lowerCaseText.length() : next);
            if (!LOCAL_SET_CONFIG.matcher(call).find() || call.contains("false")) {
                return true;
            }
            at = next;
        }
        return false;
    }

    private static final java.util.regex.Pattern LOCAL_SET_CONFIG = java.util.regex.Pattern.compile(",\\s*true\\s*\\)");

    /**
     * Looks at the start of a statement's text (the body of Query, or of Parse after its name)
     * for what no command tag reveals.
     */
    public static PinReason peekStatement(String statement) {
        String text = statement.substring(0, Math.min(statement.length(), PEEK_CHARS)).toLowerCase(Locale.ROOT);
        if (text.contains("pg_advisory_lock") || text.contains("pg_try_advisory_lock")) {
            return PinReason.ADVISORY_LOCK;
        }
        String t = text.stripLeading();
        if (t.startsWith("create")) {
            String rest = t.substring(6).stripLeading();
            if (rest.startsWith("temp") || rest.startsWith("local temp") || rest.startsWith("global temp")
                    || rest.startsWith("local temporary") || rest.startsWith("global temporary")) {
                return PinReason.TEMPORARY_TABLE;
            }
        }
        if (t.startsWith("select") && t.contains(" into temp")) {
            return PinReason.TEMPORARY_TABLE;
        }
        if (IDENTITY_CHANGE.matcher(t).lookingAt()) {
            return PinReason.IDENTITY;
        }
        if (setsConfigForTheSession(text)) {
            return PinReason.UNTRACKED_SET;
        }
        return null;
    }
}
