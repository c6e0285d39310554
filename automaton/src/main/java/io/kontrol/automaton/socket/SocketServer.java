package io.kontrol.automaton.socket;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The unix socket: one request line per connection, one reply, then close.
 *
 * <p>Three parts: the {@link SocketFile} (made in place of a stale one, removed only while it is
 * ours), the {@link SelectorLoop} (one thread multiplexes every connection with a selector; it
 * never blocks on a client nor on the machine) and a {@link Connection} per client. A connection
 * is answered {@code KO} and closed when its line exceeds {@link #MAX_LINE} bytes, when no
 * complete line arrives within the read timeout, or when too many clients are connected — only
 * that client is affected. A line ends at {@code \n} or at the
 * client's end of stream (so {@code echo -n STATE | socat - SOCK} works).
 *
 * <p>Replies are written by whichever thread produces them (the loop's thread for {@code STATE},
 * the machine thread otherwise): the channel is non-blocking, so what the client's buffer cannot
 * take yet is written by the loop when the socket is writable (the client must read some of it
 * within the read timeout); then the write side is shut down so the client sees the end of the
 * reply at once.
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

  private final SocketFile file;
  private final Settings settings;
  private final Handler handler;
  private final AtomicReference<Lifecycle> lifecycle = new AtomicReference<>(Lifecycle.LATENT);
  private final Runnable onFailure;
  private volatile SelectorLoop loop;

  public SocketServer(Path path, Settings settings, Handler handler) {
    this(path, settings, handler, () -> { });
  }

  /**
   * @param onFailure called once if the serving thread dies (the automaton is then unreachable and
   *     should exit so that its supervisor restarts it)
   */
  public SocketServer(Path path, Settings settings, Handler handler, Runnable onFailure) {
    this.settings = Objects.requireNonNull(settings, "settings");
    this.file = new SocketFile(path.toAbsolutePath(), settings.mode());
    this.handler = Objects.requireNonNull(handler, "handler");
    this.onFailure = Objects.requireNonNull(onFailure, "onFailure");
  }

  public Path path() {
    return file.path();
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
    var server = file.listen(Math.max(settings.maxClients(), 128));
    try {
      loop = new SelectorLoop(server, settings, handler, onFailure);
    } catch (IOException | RuntimeException e) {
      server.close();
      file.remove();
      throw e;
    }
    log.info("listening on {} (mode {})", file.path(), SocketFiles.formatMode(settings.mode()));
  }

  /** Starts serving on a thread of its own. */
  public void start() {
    if (!lifecycle.compareAndSet(Lifecycle.BOUND, Lifecycle.STARTED)) {
      throw new IllegalStateException("server must be bound and not started, is " + lifecycle.get());
    }
    loop.start();
  }

  /** Stops accepting, closes every connection and removes the socket file if it is still ours. */
  @Override
  public void close() {
    Lifecycle was = lifecycle.getAndSet(Lifecycle.CLOSED);
    if (was == Lifecycle.CLOSED || was == Lifecycle.LATENT) {
      return;
    }
    try {
      if (loop != null) {
        loop.close();
      }
    } finally {
      file.remove();
    }
  }

  /** The number of connections not answered yet. */
  public int clients() {
    return loop == null ? 0 : loop.clients.get();
  }
}
