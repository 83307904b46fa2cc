import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A measuring instrument, not a proxy: a byte relay from a listen port to PostgreSQL, one backend
 * connection per client, in one of five threading designs. It answers one question: what does
 * the way a relay waits for its sockets cost per round trip on this machine, with pgproxy's own
 * logic out of the picture. bench/run.sh starts it as the relay-* targets (BENCHMARKS.md §10).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
 *      bench/relay-lab/RelayLab.java LISTEN_PORT PG_PORT MODE
 * </pre>
 *
 * Modes:
 * <ul>
 * <li>{@code vt}: blocking channels, a virtual thread per direction: pgproxy's design without
 *     pgproxy. Each wait is a JDK poller registration (one-shot, re-armed with epoll_ctl), a
 *     park, and an unpark through the scheduler onto a carrier.</li>
 * <li>{@code epoll-vt}: the same virtual threads, waiting on this file's own edge-triggered
 *     epoll poller (java.lang.foreign): no epoll_ctl per wait, no read that ends in EAGAIN.</li>
 * <li>{@code epoll-reply}: requests on the client's virtual thread as in epoll-vt; replies
 *     relayed by the poller thread itself, with no hand-off to a virtual thread.</li>
 * <li>{@code epoll-loop}: both directions in the poller thread: PgBouncer's shape.</li>
 * <li>{@code selector}: both directions in one java.nio Selector loop: the plain-JDK event loop.</li>
 * </ul>
 * The event-loop modes spin on a full socket instead of waiting for it to drain, which pgbench's
 * small messages never hit; a real event loop would queue the rest and wait for writability.
 */
public final class RelayLab {
    private static final int BUFFER = 16384;

    public static void main(String[] args) throws Throwable {
        int listenPort = Integer.parseInt(args[0]);
        InetSocketAddress postgres = new InetSocketAddress("127.0.0.1", Integer.parseInt(args[1]));
        String mode = args[2];
        ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", listenPort));
        Acceptor acceptor = switch (mode) {
            case "vt" -> RelayLab::virtualThreads;
            case "epoll-vt", "epoll-reply", "epoll-loop" -> new EdgePoller(mode)::relay;
            case "selector" -> new SelectorLoop()::relay;
            default -> throw new IllegalArgumentException("mode: vt, epoll-vt, epoll-reply, epoll-loop, selector");
        };
        System.out.println("relay-lab " + mode + " on " + listenPort);
        while (true) {
            SocketChannel client = server.accept();
            Thread.ofVirtual().start(() -> {
                try {
                    SocketChannel backend = SocketChannel.open(postgres);
                    client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    backend.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    acceptor.relay(client, backend);
                } catch (Throwable e) {
                    closeQuietly(client);
                }
            });
        }
    }

    private interface Acceptor {
        void relay(SocketChannel client, SocketChannel backend) throws Throwable;
    }

    private static void virtualThreads(SocketChannel client, SocketChannel backend) {
        Thread.ofVirtual().start(() -> copy(backend, client));
        copy(client, backend);
    }

    private static void copy(SocketChannel from, SocketChannel to) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);
        try {
            while (from.read(buffer) >= 0) {
                buffer.flip();
                while (buffer.hasRemaining()) {
                    to.write(buffer);
                }
                buffer.clear();
            }
        } catch (IOException e) {
            // the other side went away
        }
        closeQuietly(from);
        closeQuietly(to);
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    /** Writes all of {@code b} to a non-blocking channel, spinning if its socket is full. */
    private static void writeFully(SocketChannel to, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (to.write(b) == 0) {
                Thread.onSpinWait();
            }
        }
    }

    /** An edge-triggered epoll set, registered once per socket, driven by one platform thread. */
    private static final class EdgePoller {
        private static final int EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10;
        private static final int EPOLLRDHUP = 0x2000, EPOLLET = 1 << 31, EPOLL_CTL_ADD = 1;
        private static final int EVENT_SIZE = 12; // struct epoll_event is packed on x86-64
        private static final MethodHandle CREATE, CTL, WAIT;
        private static final Field FD_VAL;

        static {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            CREATE = linker.downcallHandle(libc.find("epoll_create1").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            CTL = linker.downcallHandle(libc.find("epoll_ctl").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
            WAIT = linker.downcallHandle(libc.find("epoll_wait").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
            try {
                // The JDK has no public way to name a channel's descriptor.
                FD_VAL = Class.forName("sun.nio.ch.SocketChannelImpl").getDeclaredField("fdVal");
                FD_VAL.setAccessible(true);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private final String mode;
        private final int epfd;
        private final Socket[] byFd = new Socket[1 << 16];

        EdgePoller(String mode) throws Throwable {
            this.mode = mode;
            this.epfd = (int) CREATE.invokeExact(0);
            Thread.ofPlatform().daemon().name("edge-poller").start(this::loop);
        }

        /** One socket: readiness flags set by the poller, and who waits on them. */
        private final class Socket {
            final SocketChannel channel;
            final int fd;
            volatile boolean readable = true;
            volatile boolean writable = true;
            volatile Thread reader;
            volatile Thread writer;
            /** Set when the poller relays this socket's input itself. */
            Socket relayTo;
            ByteBuffer relayBuffer;

            Socket(SocketChannel channel) throws Exception {
                channel.configureBlocking(false);
                this.channel = channel;
                this.fd = FD_VAL.getInt(channel);
            }

            /**
             * Reads what has arrived, parking while nothing has. The flag is cleared before the
             * read, so an edge during the read is never lost; a read that does not fill the
             * buffer drained the socket, so no read has to end in EAGAIN to learn that.
             */
            int read(ByteBuffer b) throws IOException {
                while (true) {
                    if (!readable) {
                        reader = Thread.currentThread();
                        while (!readable) {
                            LockSupport.park(this);
                        }
                        reader = null;
                    }
                    readable = false;
                    int n = channel.read(b);
                    if (n == 0) {
                        continue;
                    }
                    if (n > 0 && !b.hasRemaining()) {
                        readable = true;
                    }
                    return n;
                }
            }

            void write(ByteBuffer b) throws IOException {
                while (b.hasRemaining()) {
                    writable = false;
                    channel.write(b);
                    if (b.hasRemaining()) {
                        writer = Thread.currentThread();
                        while (!writable) {
                            LockSupport.park(this);
                        }
                        writer = null;
                    }
                }
            }

            void close() {
                byFd[fd] = null;
                closeQuietly(channel);
            }
        }

        void relay(SocketChannel clientChannel, SocketChannel backendChannel) throws Throwable {
            Socket client = new Socket(clientChannel);
            Socket backend = new Socket(backendChannel);
            if (!mode.equals("epoll-vt")) {
                backend.relayTo = client;
                backend.relayBuffer = ByteBuffer.allocateDirect(BUFFER);
            }
            if (mode.equals("epoll-loop")) {
                client.relayTo = backend;
                client.relayBuffer = ByteBuffer.allocateDirect(BUFFER);
            }
            register(client);
            register(backend);
            if (mode.equals("epoll-vt")) {
                Thread.ofVirtual().start(() -> pump(backend, client));
            }
            if (!mode.equals("epoll-loop")) {
                pump(client, backend);
            }
        }

        private void register(Socket s) throws Throwable {
            byFd[s.fd] = s;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment event = arena.allocate(EVENT_SIZE);
                event.set(JAVA_INT, 0, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
                event.set(JAVA_LONG_UNALIGNED, 4, s.fd);
                int rc = (int) CTL.invokeExact(epfd, EPOLL_CTL_ADD, s.fd, event);
                if (rc != 0) {
                    throw new IOException("epoll_ctl failed");
                }
            }
        }

        private void pump(Socket from, Socket to) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);
            try {
                while (from.read(buffer) >= 0) {
                    buffer.flip();
                    to.write(buffer);
                    buffer.clear();
                }
            } catch (IOException e) {
                // the other side went away
            }
            from.close();
            to.close();
        }

        private void loop() {
            MemorySegment events = Arena.global().allocate((long) EVENT_SIZE * 256);
            try {
                while (true) {
                    int n = (int) WAIT.invokeExact(epfd, events, 256, -1);
                    for (int i = 0; i < n; i++) {
                        int mask = events.get(JAVA_INT, (long) EVENT_SIZE * i);
                        Socket s = byFd[(int) events.get(JAVA_LONG_UNALIGNED, (long) EVENT_SIZE * i + 4)];
                        if (s == null) {
                            continue;
                        }
                        if ((mask & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
                            if (s.relayTo != null) {
                                relayInline(s);
                            } else {
                                s.readable = true;
                                Thread t = s.reader;
                                if (t != null) {
                                    LockSupport.unpark(t);
                                }
                            }
                        }
                        if ((mask & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
                            s.writable = true;
                            Thread t = s.writer;
                            if (t != null) {
                                LockSupport.unpark(t);
                            }
                        }
                    }
                }
            } catch (Throwable e) {
                e.printStackTrace();
            }
        }

        private void relayInline(Socket s) {
            ByteBuffer b = s.relayBuffer;
            try {
                while (true) {
                    b.clear();
                    int n = s.channel.read(b);
                    if (n < 0) {
                        s.close();
                        s.relayTo.close();
                        return;
                    }
                    b.flip();
                    writeFully(s.relayTo.channel, b);
                    if (n < b.capacity()) {
                        return;
                    }
                }
            } catch (IOException e) {
                s.close();
                s.relayTo.close();
            }
        }
    }

    /** Both directions in one java.nio Selector loop, level-triggered, interest never changed. */
    private static final class SelectorLoop {
        private final Selector selector;
        private final ConcurrentLinkedQueue<SocketChannel[]> incoming = new ConcurrentLinkedQueue<>();

        SelectorLoop() throws IOException {
            selector = Selector.open();
            Thread.ofPlatform().daemon().name("selector-loop").start(this::loop);
        }

        void relay(SocketChannel client, SocketChannel backend) throws IOException {
            client.configureBlocking(false);
            backend.configureBlocking(false);
            incoming.add(new SocketChannel[] {client, backend});
            selector.wakeup();
        }

        private void loop() {
            ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);
            try {
                while (true) {
                    selector.select(key -> {
                        SocketChannel from = (SocketChannel) key.channel();
                        SocketChannel to = (SocketChannel) key.attachment();
                        try {
                            buffer.clear();
                            if (from.read(buffer) < 0) {
                                key.cancel();
                                closeQuietly(from);
                                closeQuietly(to);
                                return;
                            }
                            buffer.flip();
                            writeFully(to, buffer);
                        } catch (IOException e) {
                            key.cancel();
                            closeQuietly(from);
                            closeQuietly(to);
                        }
                    });
                    SocketChannel[] pair;
                    while ((pair = incoming.poll()) != null) {
                        pair[0].register(selector, SelectionKey.OP_READ, pair[1]);
                        pair[1].register(selector, SelectionKey.OP_READ, pair[0]);
                    }
                }
            } catch (IOException e) {
                e.printStackTrace();
            }
        }
    }
}
