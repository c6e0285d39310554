package io.kontrol.automaton.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeoutException;

/**
 * A client of the automaton socket protocol: one connection per command, exactly like {@code
 * echo CMD | socat - $SOCKET}.
 *
 * <p>It uses no thread of its own: the whole exchange (connect, write, half-close, read until
 * EOF) runs on the caller's thread with a non-blocking channel and a {@link Selector}, so a
 * timeout never leaves anything behind. Instances are immutable and may be shared.
 */
public final class AutomatonClient {

  /** Replies are one short line; anything larger than this is a protocol violation. */
  static final int MAX_REPLY = 1 << 20;

  private final Path socket;

  public AutomatonClient(Path socket) {
    this.socket = Objects.requireNonNull(socket, "socket").toAbsolutePath();
  }

  public Path socket() {
    return socket;
  }

  /**
   * Connects, writes the ONE line followed by {@code '\n'}, half-closes the write side, and reads
   * the whole reply until EOF.
   *
   * @param line the command, e.g. {@code GOTO configure {"a":1}}; must not contain a line break
   * @param timeout bound on the whole exchange
   * @return the reply, trimmed ({@code OK}, {@code KO}, a state tag; empty if the server closed
   *     without answering)
   * @throws ConnectException "no automaton at PATH" when nothing listens on the socket
   * @throws TimeoutException when no complete reply arrived within {@code timeout}; the channel
   *     is closed
   * @throws IOException on any other I/O failure
   */
  public String send(String line, Duration timeout) throws IOException, TimeoutException {
    Objects.requireNonNull(line, "line");
    Objects.requireNonNull(timeout, "timeout");
    if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
      throw new IllegalArgumentException("a command is one line: it must not contain a line break");
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    ByteBuffer out = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));

    SocketChannel channel;
    try {
      channel = SocketChannel.open(StandardProtocolFamily.UNIX);
    } catch (UnsupportedOperationException e) {
      throw new IOException("unix domain sockets are not supported here", e);
    }
    try (channel;
        Selector selector = Selector.open()) {
      channel.configureBlocking(false);
      boolean connected;
      try {
        connected = channel.connect(UnixDomainSocketAddress.of(socket));
      } catch (IOException e) {
        throw noAutomaton(e);
      }
      SelectionKey key = channel.register(selector, connected ? SelectionKey.OP_WRITE : SelectionKey.OP_CONNECT);
      if (!connected) {
        await(selector, deadline);
        try {
          if (!channel.finishConnect()) {
            throw new TimeoutException("no connection to " + socket + " within " + timeout);
          }
        } catch (IOException e) {
          throw noAutomaton(e);
        }
        key.interestOps(SelectionKey.OP_WRITE);
      }

      // Write the line; a server that stops reading (full buffer) is covered by the deadline.
      while (out.hasRemaining()) {
        if (channel.write(out) == 0) {
          await(selector, deadline);
        }
      }
      channel.shutdownOutput();

      // Read until EOF.
      key.interestOps(SelectionKey.OP_READ);
      ByteArrayOutputStream reply = new ByteArrayOutputStream(64);
      ByteBuffer in = ByteBuffer.allocate(4096);
      while (true) {
        int n = channel.read(in);
        if (n < 0) {
          break;
        }
        if (n == 0) {
          await(selector, deadline);
          continue;
        }
        reply.write(in.array(), 0, in.position());
        in.clear();
        if (reply.size() > MAX_REPLY) {
          throw new IOException("reply from " + socket + " exceeds " + MAX_REPLY + " bytes");
        }
      }
      return reply.toString(StandardCharsets.UTF_8).trim();
    }
  }

  /** Blocks until the channel's selected operation is ready, or throws at the deadline. */
  private void await(Selector selector, long deadline) throws IOException, TimeoutException {
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new TimeoutException("no reply from " + socket + " in time");
      }
      long millis = Math.max(1, (left + 999_999) / 1_000_000);
      int ready = selector.select(millis);
      if (ready > 0) {
        selector.selectedKeys().clear();
        return;
      }
    }
  }

  private IOException noAutomaton(IOException cause) {
    String why = String.valueOf(cause.getMessage());
    if (why.contains("Permission denied") || why.contains("Operation not permitted")) {
      return new IOException("permission denied on " + socket + " (the socket is mode 0660 by default: same user or group)", cause);
    }
    ConnectException e = new ConnectException("no automaton at " + socket);
    e.initCause(cause);
    return e;
  }

  @Override
  public String toString() {
    return "AutomatonClient[" + socket + "]";
  }
}
