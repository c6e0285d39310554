package io.kontrol.service.haproxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The HAProxy master CLI ({@code haproxy -W -S <socket>}): one command per connection, as {@code
 * echo 'show proc' | socat - UNIX-CONNECT:<socket>} does. A command prefixed with {@code @1} runs
 * on the current worker's runtime API, so the operator's configuration needs no {@code stats
 * socket} of its own.
 *
 * <p>The master closes this socket while it re-executes itself for a reload: a caller polls
 * ({@link #send} throws {@link IOException} until it is back).
 */
public final class MasterCli {

  private final Path socket;

  public MasterCli(Path socket) {
    this.socket = socket;
  }

  public Path socket() {
    return socket;
  }

  /**
   * Sends one command and returns the whole reply (the master closes the connection after it).
   *
   * @throws IOException when the socket is absent or refuses (no master, or one re-executing),
   *     or the reply does not end within {@code timeout}
   */
  public String send(String command, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        Selector selector = Selector.open()) {
      channel.connect(UnixDomainSocketAddress.of(socket));
      ByteBuffer out = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8));
      while (out.hasRemaining()) {
        channel.write(out);
      }
      channel.shutdownOutput();
      channel.configureBlocking(false);
      channel.register(selector, SelectionKey.OP_READ);
      ByteArrayOutputStream reply = new ByteArrayOutputStream();
      ByteBuffer in = ByteBuffer.allocate(16 * 1024);
      while (true) {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
          throw new IOException("no complete reply to '" + command + "' on " + socket + " within " + timeout.toMillis() + " ms");
        }
        selector.select(left);
        selector.selectedKeys().clear();
        int n;
        while ((n = channel.read(in)) > 0) {
          reply.write(in.array(), 0, in.position());
          in.clear();
        }
        if (n < 0) {
          return reply.toString(StandardCharsets.UTF_8);
        }
      }
    }
  }

  /** {@code show proc}, parsed. */
  public ProcList showProc(Duration timeout) throws IOException {
    return ProcList.parse(send("show proc", timeout));
  }

  /** A runtime-API command on the current worker ({@code @1 <command>}). */
  public String worker(String command, Duration timeout) throws IOException {
    return send("@1 " + command, timeout);
  }
}
