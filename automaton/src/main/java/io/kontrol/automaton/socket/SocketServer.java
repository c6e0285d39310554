package io.kontrol.automaton.socket;

import io.kontrol.automaton.client.AutomatonClient;
import java.io.Closeable;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The unix socket: one request line per connection, one reply, then close.
 *
 * <p>One thread multiplexes every connection with a {@link Selector}; it never blocks on a client
 * nor on the machine. A connection is answered {@code KO} and closed when its line exceeds {@link
 * #MAX_LINE} bytes, when no complete line arrives within the read timeout, or when too many
 * clients are connected — only that client is affected. A line ends at {@code \n} or at the
 * client's end of stream (so {@code echo -n STATE | socat - SOCK} works).
 *
 * <p>Replies are written by whichever thread produces them (the selector thread for {@code STATE},
 * the machine thread otherwise): the channel is non-blocking, so what the client's buffer cannot
 * take yet is written by the selector thread when the socket is writable (the client must read
 * some of it within the read timeout); then the write side is shut down so the client sees the
 * end of the reply at once.
 */
public final class SocketServer implements Closeable {

  /** The longest request line accepted, in bytes, without its line break. */
  public static final int MAX_LINE = 64 * 1024;

  /**
   * Bound on the bytes buffered for all unfinished lines together: a thousand clients each sending
   * 64 KiB without a newline must not exhaust a small heap. Past it, the client whose line needs
   * more room is answered KO.
   */
  static final long BUFFER_BUDGET = 16L << 20;

  /** How long, and how many bytes, an answered connection is drained before it is closed. */
  static final Duration LINGER = Duration.ofSeconds(1);

  static final long LINGER_BYTES = 1L << 20;

  private static final Logger log = LoggerFactory.getLogger("automaton.socket");

  /** Settings of the server. */
  public record Settings(Duration readTimeout, int maxClients, Set<PosixFilePermission> mode) {
    public Settings {
      Objects.requireNonNull(readTimeout, "readTimeout");
      if (readTimeout.isNegative() || readTimeout.isZero()) {
        throw new IllegalArgumentException("readTimeout must be positive");
      }
      if (maxClients < 1) {
        throw new IllegalArgumentException("maxClients must be at least 1");
      }
      mode = Set.copyOf(mode);
    }

    public static Settings defaults() {
      return new Settings(Duration.ofSeconds(10), 1024, SocketFiles.parseMode("0660"));
    }
  }

  /** Thrown by {@link #bind()} when another process answers on the socket path. */
  public static final class InUseException extends IOException {
    public InUseException(String message) {
      super(message);
    }
  }

  private enum Lifecycle {
    LATENT,
    BOUND,
    STARTED,
    CLOSED
  }

  private final Path path;
  private final Settings settings;
  private final Handler handler;
  private final AtomicReference<Lifecycle> lifecycle = new AtomicReference<>(Lifecycle.LATENT);
  private final AtomicInteger clients = new AtomicInteger();
  private final java.util.concurrent.atomic.AtomicLong buffered = new java.util.concurrent.atomic.AtomicLong();
  private final Runnable onFailure;
  private final ArrayDeque<Connection> byDeadline = new ArrayDeque<>();
  private final ArrayDeque<Connection> byLinger = new ArrayDeque<>();
  private final ArrayDeque<Connection> byWriteDeadline = new ArrayDeque<>();
  private final java.util.concurrent.ConcurrentLinkedQueue<Connection> closing = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final ByteBuffer scratch = ByteBuffer.allocate(8192);
  private ServerSocketChannel server;
  private Selector selector;
  private Object fileKey;
  private Thread thread;

  public SocketServer(Path path, Settings settings, Handler handler) {
    this(path, settings, handler, () -> { });
  }

  /**
   * @param onFailure called once if the serving thread dies (the automaton is then unreachable and
   *     should exit so that its supervisor restarts it)
   */
  public SocketServer(Path path, Settings settings, Handler handler, Runnable onFailure) {
    this.path = path.toAbsolutePath();
    this.settings = Objects.requireNonNull(settings, "settings");
    this.handler = Objects.requireNonNull(handler, "handler");
    this.onFailure = Objects.requireNonNull(onFailure, "onFailure");
  }

  public Path path() {
    return path;
  }

  /**
   * Creates the socket file: replaces a stale one (nothing answers), refuses a live one or a path
   * that is not a socket, then sets its permissions. Connections queue in the backlog until
   * {@link #start()}.
   */
  public void bind() throws IOException {
    if (!lifecycle.compareAndSet(Lifecycle.LATENT, Lifecycle.BOUND)) {
      throw new IllegalStateException("server already " + lifecycle.get());
    }
    boolean ok = false;
    try {
      replaceStale();
      selector = Selector.open();
      server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(path), Math.max(settings.maxClients(), 128));
      Files.setPosixFilePermissions(path, settings.mode());
      fileKey = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
      server.configureBlocking(false);
      server.register(selector, SelectionKey.OP_ACCEPT);
      ok = true;
      log.info("listening on {} (mode {})", path, SocketFiles.formatMode(settings.mode()));
    } finally {
      if (!ok) {
        closeQuietly(server);
        closeQuietly(selector);
        if (server != null) {
          removeIfOurs();
        }
      }
    }
  }

  /** Starts serving on a thread of its own. */
  public void start() {
    if (!lifecycle.compareAndSet(Lifecycle.BOUND, Lifecycle.STARTED)) {
      throw new IllegalStateException("server must be bound and not started, is " + lifecycle.get());
    }
    thread = new Thread(this::serve, "automaton-socket");
    thread.setDaemon(true);
    thread.start();
  }

  /** Stops accepting, closes every connection and removes the socket file if it is still ours. */
  @Override
  public void close() {
    Lifecycle was = lifecycle.getAndSet(Lifecycle.CLOSED);
    if (was == Lifecycle.CLOSED || was == Lifecycle.LATENT) {
      return;
    }
    try {
      if (selector != null) {
        selector.wakeup();
      }
      if (thread != null && thread != Thread.currentThread()) {
        thread.join(2000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (selector != null && selector.isOpen()) {
        try {
          for (SelectionKey k : selector.keys()) {
            closeQuietly(k.channel());
          }
        } catch (ClosedSelectorException e) {
          // closed by the serving thread meanwhile
        }
      }
      closeQuietly(server);
      closeQuietly(selector);
      removeIfOurs();
    }
  }

  /** The number of connections not answered yet. */
  public int clients() {
    return clients.get();
  }

  private void replaceStale() throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!SocketFiles.isSocket(path)) {
      throw new IOException(path + " exists and is not a socket: refusing to replace it");
    }
    try {
      String state = new AutomatonClient(path).send("STATE", Duration.ofSeconds(2));
      throw new InUseException("another automaton is running on " + path + (state.isEmpty() ? "" : " (state " + state + ")"));
    } catch (ConnectException e) {
      Files.deleteIfExists(path);
      log.info("removed stale socket {}", path);
    } catch (TimeoutException e) {
      throw new InUseException("something is listening on " + path + " but does not answer: refusing to replace it");
    }
  }

  private void removeIfOurs() {
    try {
      if (fileKey != null && Files.exists(path, LinkOption.NOFOLLOW_LINKS)
          && fileKey.equals(Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey())) {
        Files.delete(path);
        log.info("removed socket {}", path);
      }
    } catch (IOException e) {
      log.warn("could not remove socket {}: {}", path, e.toString());
    }
  }

  // ------------------------------------------------------------------ serving thread

  private void serve() {
    try {
      while (lifecycle.get() == Lifecycle.STARTED) {
        Connection answered;
        while ((answered = closing.poll()) != null) {
          answered(answered);
        }
        long wait = expire();
        selector.select(wait);
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
          SelectionKey key = it.next();
          it.remove();
          try {
            if (!key.isValid()) {
              continue;
            }
            if (key.isAcceptable()) {
              accept();
            } else if (key.isWritable()) {
              write((Connection) key.attachment());
            } else if (key.isReadable()) {
              Connection c = (Connection) key.attachment();
              if (c.lingering) {
                drain(c);
              } else {
                read(c);
              }
            }
          } catch (RuntimeException e) {
            // one connection's failure must never stop the server
            log.warn("socket: dropping a connection after an unexpected error", e);
            if (key.attachment() instanceof Connection) {
              ((Connection) key.attachment()).abort();
            }
          }
        }
      }
    } catch (ClosedSelectorException e) {
      // closing
    } catch (IOException | RuntimeException | Error e) {
      if (lifecycle.get() == Lifecycle.STARTED) {
        log.error("socket server failed: automaton is unreachable", e);
        onFailure.run();
      }
    } finally {
      log.debug("socket thread ends");
    }
  }

  /**
   * Answers KO to connections past their read deadline, closes lingering ones past theirs; returns
   * how long select may block (0: until something happens).
   */
  private long expire() {
    long now = System.nanoTime();
    long wait = Long.MAX_VALUE;
    Connection head;
    while ((head = byDeadline.peek()) != null) {
      if (head.dispatched || head.replied.get()) {
        byDeadline.poll();
        continue;
      }
      long left = head.deadline - now;
      if (left > 0) {
        wait = left;
        break;
      }
      byDeadline.poll();
      log.info("socket: no complete line within {} ms, answering KO", settings.readTimeout().toMillis());
      head.key.interestOps(0);
      head.reply("KO");
    }
    while ((head = byWriteDeadline.peek()) != null) {
      if (head.pending == null) {
        byWriteDeadline.poll();
        continue;
      }
      long left = head.writeDeadline - now;
      if (left > 0) {
        wait = Math.min(wait, left);
        break;
      }
      byWriteDeadline.poll();
      log.info("socket: a client did not read its whole reply within {} ms, closing it", settings.readTimeout().toMillis());
      head.close();
    }
    while ((head = byLinger.peek()) != null) {
      long left = head.lingerDeadline - now;
      if (left > 0) {
        wait = Math.min(wait, left);
        break;
      }
      byLinger.poll();
      head.close();
    }
    return wait == Long.MAX_VALUE ? 0 : Math.max(1, (wait + 999_999) / 1_000_000);
  }

  private void accept() throws IOException {
    SocketChannel ch;
    while ((ch = server.accept()) != null) {
      if (clients.get() >= settings.maxClients()) {
        log.warn("socket: {} clients connected, refusing one more", clients.get());
        refuse(ch);
        continue;
      }
      clients.incrementAndGet();
      ch.configureBlocking(false);
      Connection c = new Connection(ch, System.nanoTime() + settings.readTimeout().toNanos());
      buffered.addAndGet(c.buf.length);
      c.key = ch.register(selector, SelectionKey.OP_READ, c);
      byDeadline.add(c);
      read(c); // the line is often already there
    }
  }

  private static void refuse(SocketChannel ch) {
    try (ch) {
      ch.configureBlocking(false);
      ch.write(ByteBuffer.wrap("KO\n".getBytes(StandardCharsets.US_ASCII)));
      ch.shutdownOutput();
    } catch (IOException e) {
      // the client is gone already
    }
  }

  private void read(Connection c) {
    if (c.dispatched || c.replied.get()) {
      return;
    }
    try {
      while (true) {
        if (c.len == c.buf.length) {
          int cap = Math.min(c.buf.length * 4, MAX_LINE + 1);
          if (buffered.addAndGet(cap - c.buf.length) > BUFFER_BUDGET) {
            buffered.addAndGet(c.buf.length - cap);
            log.warn("socket: {} bytes of unfinished lines buffered, answering KO", buffered.get());
            c.key.interestOps(0);
            c.reply("KO");
            return;
          }
          byte[] bigger = new byte[cap];
          System.arraycopy(c.buf, 0, bigger, 0, c.len);
          c.buf = bigger;
        }
        int n = c.channel.read(ByteBuffer.wrap(c.buf, c.len, c.buf.length - c.len));
        if (n < 0) {
          dispatch(c, c.len); // end of stream: the line is whatever came
          return;
        }
        if (n == 0) {
          return;
        }
        int from = c.len;
        c.len += n;
        for (int i = from; i < c.len; i++) {
          if (c.buf[i] == '\n') {
            dispatch(c, i);
            return;
          }
        }
        if (c.len > MAX_LINE) {
          log.info("socket: line longer than {} bytes, answering KO", MAX_LINE);
          c.key.interestOps(0);
          c.reply("KO");
          return;
        }
      }
    } catch (IOException e) {
      log.debug("socket: client went away: {}", e.toString());
      c.abort();
    }
  }

  private void dispatch(Connection c, int end) {
    c.dispatched = true;
    c.key.interestOps(0);
    String line;
    try {
      line = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(c.buf, 0, end))
          .toString();
    } catch (CharacterCodingException e) {
      line = null;
    }
    c.freeBuffer(); // the line is all we keep
    try {
      handler.handle(line, c::reply);
    } catch (RuntimeException e) {
      log.warn("socket: handler failed", e);
      c.reply("KO");
    }
  }

  /** A reply is out of the handler: write its rest when the client can take it, else linger. */
  private void answered(Connection c) {
    if (c.pending == null) {
      linger(c);
      return;
    }
    if (!c.key.isValid()) {
      c.close();
      return;
    }
    c.writeDeadline = System.nanoTime() + settings.readTimeout().toNanos();
    byWriteDeadline.add(c);
    c.key.interestOps(SelectionKey.OP_WRITE);
  }

  /** Writes more of a pending reply; once it is all out, shuts the write side and lingers. */
  private void write(Connection c) {
    try {
      c.channel.write(c.pending);
      if (c.pending.hasRemaining()) {
        return;
      }
      c.pending = null;
      byWriteDeadline.remove(c);
      c.channel.shutdownOutput();
      linger(c);
    } catch (IOException e) {
      log.debug("socket: could not finish a reply to a client that went away: {}", e.toString());
      byWriteDeadline.remove(c);
      c.close();
    }
  }

  /**
   * The reply is sent and the write side shut (the client already has its answer and EOF). Closing
   * now would make the kernel reset the connection if the client sent more than we read (a line
   * over the limit, bytes after the newline) and a reset can hide the reply from it. So read and
   * discard what still comes, until the client closes, for at most {@link #LINGER} and
   * {@link #LINGER_BYTES}; then close.
   */
  private void linger(Connection c) {
    if (!c.key.isValid() || byLinger.size() >= settings.maxClients()) {
      c.close();
      return;
    }
    c.lingering = true;
    c.lingerDeadline = System.nanoTime() + LINGER.toNanos();
    byLinger.add(c);
    c.key.interestOps(SelectionKey.OP_READ);
    drain(c);
  }

  private void drain(Connection c) {
    try {
      while (true) {
        scratch.clear();
        int n = c.channel.read(scratch);
        if (n < 0) {
          c.close();
          return;
        }
        if (n == 0) {
          return;
        }
        c.drained += n;
        if (c.drained > LINGER_BYTES) {
          c.close();
          return;
        }
      }
    } catch (IOException e) {
      c.close();
    }
  }

  private static void closeQuietly(java.io.Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        // nothing more to do
      }
    }
  }

  /** One client connection. */
  private final class Connection {
    final SocketChannel channel;
    final long deadline;
    final AtomicBoolean replied = new AtomicBoolean();
    SelectionKey key;
    byte[] buf = new byte[512];
    int len;
    volatile boolean dispatched;
    // lingering close, selector thread only
    boolean lingering;
    long lingerDeadline;
    long drained;
    // the part of the reply not written yet, selector thread only once handed over
    ByteBuffer pending;
    long writeDeadline;

    Connection(SocketChannel channel, long deadline) {
      this.channel = channel;
      this.deadline = deadline;
    }

    /**
     * Writes the reply and shuts the write side (the client sees its end at once), then hands the
     * connection to the selector thread for a lingering close. Thread-safe; only the first call acts.
     */
    void reply(String text) {
      if (!replied.compareAndSet(false, true)) {
        return;
      }
      boolean sent = false;
      try {
        ByteBuffer out = ByteBuffer.wrap((text + "\n").getBytes(StandardCharsets.UTF_8));
        channel.write(out);
        if (out.hasRemaining()) {
          // the client's receive buffer is full: the selector thread writes the rest when it can
          pending = out;
        } else {
          channel.shutdownOutput();
        }
        sent = true;
      } catch (IOException e) {
        log.debug("socket: could not reply to a client that went away: {}", e.toString());
      } finally {
        freeBuffer();
        clients.decrementAndGet();
      }
      if (!sent) {
        close();
      } else if (Thread.currentThread() == thread) {
        answered(this);
      } else {
        // the queue hands pending over to the selector thread (happens-before)
        closing.add(this);
        Selector s = selector;
        if (s != null) {
          s.wakeup();
        }
      }
    }

    /** Closes without replying (the client is gone). */
    void abort() {
      if (replied.compareAndSet(false, true)) {
        freeBuffer();
        clients.decrementAndGet();
        close();
      }
    }

    /** Returns the line buffer to the budget (once). */
    synchronized void freeBuffer() {
      if (buf != null) {
        buffered.addAndGet(-buf.length);
        buf = null;
      }
    }

    void close() {
      closeQuietly(channel);
      if (Thread.currentThread() != thread) {
        // let the selector deregister the channel now, which really closes its descriptor
        Selector s = selector;
        if (s != null) {
          s.wakeup();
        }
      }
    }
  }
}
