package io.kontrol.automaton.socket;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's one thread, {@code automaton-socket}: accepts, reads every {@link Connection}'s
 * line, writes the rest of replies the client could not take at once, closes answered connections
 * after lingering, and enforces the deadlines (read timeout, write timeout, linger). It never
 * blocks on a client nor on the machine; one connection's failure never stops it.
 */
final class SelectorLoop {
  private static final Logger log = LoggerFactory.getLogger("automaton.socket");

  /** Connections not answered yet; any thread. */
  final AtomicInteger clients = new AtomicInteger();
  /** Bytes held by unfinished lines, against {@link SocketServer#BUFFER_BUDGET}; any thread. */
  final AtomicLong buffered = new AtomicLong();

  private final ServerSocketChannel server;
  private final Selector selector;
  private final SocketServer.Settings settings;
  private final Handler handler;
  private final Runnable onFailure;
  // the loop thread's own
  private final ArrayDeque<Connection> byDeadline = new ArrayDeque<>();
  private final ArrayDeque<Connection> byLinger = new ArrayDeque<>();
  private final ArrayDeque<Connection> byWriteDeadline = new ArrayDeque<>();
  private final ByteBuffer scratch = ByteBuffer.allocate(8192);
  /** Connections answered on another thread, handed to the loop. */
  private final ConcurrentLinkedQueue<Connection> answered = new ConcurrentLinkedQueue<>();
  private volatile boolean running;
  private Thread thread;

  /** Registers {@code server} with a new selector; connections wait in its backlog until {@link #start()}. */
  SelectorLoop(ServerSocketChannel server, SocketServer.Settings settings, Handler handler, Runnable onFailure)
      throws IOException {
    this.server = server;
    this.settings = settings;
    this.handler = handler;
    this.onFailure = onFailure;
    this.selector = Selector.open();
    try {
      server.register(selector, SelectionKey.OP_ACCEPT);
    } catch (IOException | RuntimeException e) {
      selector.close();
      throw e;
    }
  }

  void start() {
    running = true;
    thread = new Thread(this::serve, "automaton-socket");
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Stops the loop (waits for it at most 2 s), then closes every connection, the listening
   * channel and the selector. Bounded; any thread.
   */
  void close() {
    running = false;
    try {
      selector.wakeup();
      if (thread != null && thread != Thread.currentThread()) {
        thread.join(2000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (selector.isOpen()) {
        try {
          for (SelectionKey k : selector.keys()) {
            closeQuietly(k.channel());
          }
        } catch (ClosedSelectorException e) {
          // closed by the loop meanwhile
        }
      }
      closeQuietly(server);
      closeQuietly(selector);
    }
  }

  private boolean onLoop() {
    return Thread.currentThread() == thread;
  }

  /** A connection has its reply: the loop writes the rest and lingers. Any thread. */
  void answered(Connection c) {
    if (onLoop()) {
      handOver(c);
    } else {
      // the queue hands c.pending over to the loop thread (happens-before)
      answered.add(c);
      selector.wakeup();
    }
  }

  /**
   * A connection's channel was closed. A lingering one (always closed on the loop) leaves the
   * linger queue at once, so that connections already gone do not count against {@code
   * maxClients} lingering ones; on another thread, let the selector deregister it now.
   */
  void closed(Connection c) {
    if (onLoop()) {
      if (c.lingering) {
        byLinger.remove(c);
      }
    } else {
      selector.wakeup(); // which really closes its descriptor
    }
  }

  private void serve() {
    try {
      while (running) {
        Connection c;
        while ((c = answered.poll()) != null) {
          handOver(c);
        }
        selector.select(expire());
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
              Connection k = (Connection) key.attachment();
              if (k.lingering) {
                k.drain(scratch);
              } else {
                k.read(handler);
              }
            }
          } catch (RuntimeException e) {
            // one connection's failure must never stop the server
            log.warn("socket: dropping a connection after an unexpected error", e);
            if (key.attachment() instanceof Connection k) {
              k.abort();
            }
          }
        }
      }
    } catch (ClosedSelectorException e) {
      // closing
    } catch (IOException | RuntimeException | Error e) {
      if (running) {
        log.error("socket server failed: automaton is unreachable", e);
        onFailure.run();
      }
    } finally {
      log.debug("socket thread ends");
    }
  }

  /**
   * Answers KO to connections past their read deadline, closes those past their write or linger
   * deadline; returns how long select may block (0: until something happens).
   */
  private long expire() {
    long now = System.nanoTime();
    long wait = Long.MAX_VALUE;
    Connection head;
    while ((head = byDeadline.peek()) != null) {
      if (head.done()) {
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
      Connection c = new Connection(ch, System.nanoTime() + settings.readTimeout().toNanos(), this);
      c.key = ch.register(selector, SelectionKey.OP_READ, c);
      byDeadline.add(c);
      c.read(handler); // the line is often already there
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

  /** A reply is out of the handler: write its rest when the client can take it, else linger. */
  private void handOver(Connection c) {
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

  /** Writes more of a pending reply; once it is all out, lingers. */
  private void write(Connection c) {
    try {
      if (!c.writePending()) {
        return;
      }
      byWriteDeadline.remove(c);
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
   * discard what still comes, until the client closes, for at most {@link SocketServer#LINGER}
   * and {@link SocketServer#LINGER_BYTES}; then close.
   */
  private void linger(Connection c) {
    if (!c.key.isValid() || byLinger.size() >= settings.maxClients()) {
      c.close();
      return;
    }
    c.lingering = true;
    c.lingerDeadline = System.nanoTime() + SocketServer.LINGER.toNanos();
    byLinger.add(c);
    c.key.interestOps(SelectionKey.OP_READ);
    c.drain(scratch);
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
}
