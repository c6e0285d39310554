package io.kontrol.automaton.socket;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client: its request line as it arrives, its one reply, then a lingering close. Read, the
 * rest of a reply and the lingering close run on the {@link SelectorLoop}'s thread; {@link
 * #reply(String)} runs on whichever thread has the answer, and hands the connection back to the
 * loop.
 */
final class Connection {
  private static final Logger log = LoggerFactory.getLogger("automaton.socket");

  final SocketChannel channel;
  /** When a complete line must have arrived (System.nanoTime). */
  final long deadline;
  private final SelectorLoop loop;
  private final AtomicBoolean replied = new AtomicBoolean();
  SelectionKey key;
  private byte[] buf = new byte[512];
  private int len;
  private volatile boolean dispatched;
  // lingering close, loop thread only
  boolean lingering;
  long lingerDeadline;
  private long drained;
  /** The part of the reply not written yet; the loop thread's once handed over. */
  ByteBuffer pending;
  long writeDeadline;

  Connection(SocketChannel channel, long deadline, SelectorLoop loop) {
    this.channel = channel;
    this.deadline = deadline;
    this.loop = loop;
    loop.buffered.addAndGet(buf.length);
  }

  /** True once the line went to the handler or the connection was answered or dropped. */
  boolean done() {
    return dispatched || replied.get();
  }

  /**
   * Reads what the client sent; a complete line ({@code \n} or the end of stream) goes to the
   * handler. A line over {@link SocketServer#MAX_LINE}, or one that the buffer budget cannot hold,
   * is answered KO.
   */
  void read(Handler handler) {
    if (done()) {
      return;
    }
    try {
      while (true) {
        if (len == buf.length) {
          int cap = Math.min(buf.length * 4, SocketServer.MAX_LINE + 1);
          if (loop.buffered.addAndGet(cap - buf.length) > SocketServer.BUFFER_BUDGET) {
            loop.buffered.addAndGet(buf.length - cap);
            log.warn("socket: {} bytes of unfinished lines buffered, answering KO", loop.buffered.get());
            key.interestOps(0);
            reply("KO");
            return;
          }
          byte[] bigger = new byte[cap];
          System.arraycopy(buf, 0, bigger, 0, len);
          buf = bigger;
        }
        int n = channel.read(ByteBuffer.wrap(buf, len, buf.length - len));
        if (n < 0) {
          dispatch(handler, len); // end of stream: the line is whatever came
          return;
        }
        if (n == 0) {
          return;
        }
        int from = len;
        len += n;
        for (int i = from; i < len; i++) {
          if (buf[i] == '\n') {
            dispatch(handler, i);
            return;
          }
        }
        if (len > SocketServer.MAX_LINE) {
          log.info("socket: line longer than {} bytes, answering KO", SocketServer.MAX_LINE);
          key.interestOps(0);
          reply("KO");
          return;
        }
      }
    } catch (IOException e) {
      log.debug("socket: client went away: {}", e.toString());
      abort();
    }
  }

  private void dispatch(Handler handler, int end) {
    dispatched = true;
    key.interestOps(0);
    String line;
    try {
      line = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(buf, 0, end))
          .toString();
    } catch (CharacterCodingException e) {
      line = null;
    }
    freeBuffer(); // the line is all we keep
    try {
      handler.handle(line, this::reply);
    } catch (RuntimeException e) {
      log.warn("socket: handler failed", e);
      reply("KO");
    }
  }

  /**
   * Writes the reply and shuts the write side (the client sees its end at once); what the
   * client's buffer cannot take yet is left {@link #pending} for the loop. Then hands the
   * connection to the loop for the rest and a lingering close. Thread-safe; only the first call
   * acts.
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
        // the client's receive buffer is full: the loop writes the rest when it can
        pending = out;
      } else {
        channel.shutdownOutput();
      }
      sent = true;
    } catch (IOException e) {
      log.debug("socket: could not reply to a client that went away: {}", e.toString());
    } finally {
      freeBuffer();
      loop.clients.decrementAndGet();
    }
    if (sent) {
      loop.answered(this);
    } else {
      close();
    }
  }

  /**
   * Writes more of the pending reply (loop thread); true once it is all out and the write side is
   * shut.
   *
   * @throws IOException when the client went away
   */
  boolean writePending() throws IOException {
    channel.write(pending);
    if (pending.hasRemaining()) {
      return false;
    }
    pending = null;
    channel.shutdownOutput();
    return true;
  }

  /**
   * Reads and discards what the client still sends while lingering (loop thread); closes at its
   * end of stream or past {@link SocketServer#LINGER_BYTES}.
   */
  void drain(ByteBuffer scratch) {
    try {
      while (true) {
        scratch.clear();
        int n = channel.read(scratch);
        if (n < 0) {
          close();
          return;
        }
        if (n == 0) {
          return;
        }
        drained += n;
        if (drained > SocketServer.LINGER_BYTES) {
          close();
          return;
        }
      }
    } catch (IOException e) {
      close();
    }
  }

  /** Closes without replying (the client is gone). */
  void abort() {
    if (replied.compareAndSet(false, true)) {
      freeBuffer();
      loop.clients.decrementAndGet();
      close();
    }
  }

  /** Returns the line buffer to the budget (once). */
  private synchronized void freeBuffer() {
    if (buf != null) {
      loop.buffered.addAndGet(-buf.length);
      buf = null;
    }
  }

  void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing more to do
    }
    loop.closed(this);
  }
}
