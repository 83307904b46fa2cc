package io.pgproxy.client;

import io.pgproxy.config.UserConfig;

/** What a login learns of its user, from {@code pgproxy.users} or the auth query. */
sealed interface UserLookup {
    /** A user with its method and secret, configured or found by the auth query alike. */
    record Known(UserConfig user) implements UserLookup {
    }

    /**
     * A role the auth query found without a usable secret: none, one past its rolvaliduntil, or
     * one in a form pgproxy cannot check. Password methods fail it as a wrong password would.
     */
    record WithoutSecret(String name) implements UserLookup {
    }

    /** No such user: password methods still run a mock exchange, so it cannot be told from a wrong password. */
    record Unknown(String name) implements UserLookup {
    }
}
