package io.pgproxy.backend;

import io.pgproxy.protocol.message.ErrorResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;

/**
 * Opens a backend connection on the caller's thread: TCP connect, startup and authentication,
 * all bounded by the target's connect timeout. The connection's states move from connecting
 * through logging in to idle here, and nowhere else.
 */
public final class BackendConnector {
    private static final Logger log = LoggerFactory.getLogger(BackendConnector.class);

    private BackendConnector() {
    }

/**
 * Connects and logs in {@code c} (created in {@link BackendState#CONNECTING}), then starts
 * its reader. On failure the connection is closed and the error says why.
 */
public static void connect(BackendConnection c) throws BackendException {
    BackendTarget target = c.target();
    SocketChannel channel = null;
    try {
        channel = SocketChannel.open();
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
        channel.socket().connect(new InetSocketAddress(target.host(), target.port()),
                (int) Math.min(Integer.MAX_VALUE, target.connectTimeout().toMillis()));
    } catch (IOException e) {
        closeQuietly(channel);
        c.close();
        throw new BackendException(ErrorResponse.error("08001",
                "could not connect to backend " + target.host() + ":" + target.port() + ": " + e.getMessage()), e);
    }
    // The connect timeout bounds the whole login: a backend that accepts and then says
    // nothing must not hold the client forever.
    SocketChannel watched = channel;
    Thread watchdog = Thread.ofVirtual().name("pgproxy-connect-watchdog").start(() -> {
        try {
            Thread.sleep(target.connectTimeout());
            closeQuietly(watched);
        } catch (InterruptedException done) {
            // Startup finished in time.
        }
    });
    try {
        c.moveTo(BackendState.LOGGING_IN);
        BackendStartup.Result startup = BackendStartup.run(channel, target);
        watchdog.interrupt();
        c.loggedIn(channel, startup);
        log.debug("{} connected to {} (backend pid {})", c.id(), target, startup.keyData().processId());
    } catch (BackendException e) {
        closeQuietly(channel);
        c.close();
        throw e;
    } catch (IOException e) {
        closeQuietly(channel);
        c.close();
        String reason = e instanceof java.nio.channels.ClosedChannelException
                ? "no answer within " + target.connectTimeout().toMillis() + " ms" : e.getMessage();
        throw new BackendException(ErrorResponse.error("08001",
                "backend " + target.host() + ":" + target.port() + " failed during startup: " + reason), e);
    } finally {
        watchdog.interrupt();
    }
}

    private static void closeQuietly(SocketChannel channel) {
        BackendConnection.closeQuietly(channel);
    }
}
