package io.kontrol.automaton.socket;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The socket server alone, with a handler of the test's own. */
@Timeout(60)
class SocketServerTest {

  @TempDir Path dir;

  @Test
  void aReplyLargerThanTheClientsBufferArrivesWholeWhenTheClientReadsLate() throws Exception {
    String big = "x".repeat(8 << 20); // far more than a unix socket's buffers hold
    CountDownLatch handed = new CountDownLatch(1);
    Path sock = dir.resolve("sock");
    SocketServer.Settings settings = new SocketServer.Settings(Duration.ofSeconds(30), 8, SocketServer.Settings.defaults().mode());
    try (SocketServer server = new SocketServer(sock, settings, (line, reply) -> {
      reply.send(big);
      handed.countDown();
    })) {
      server.bind();
      server.start();
      try (SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        client.connect(UnixDomainSocketAddress.of(sock));
        client.write(ByteBuffer.wrap("BIG\n".getBytes(StandardCharsets.US_ASCII)));
        // the client reads nothing until the server has handed its reply over
        assertThat(handed.await(20, TimeUnit.SECONDS)).isTrue();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        while (client.read(buf) >= 0) {
          got.write(buf.array(), 0, buf.position());
          buf.clear();
        }
        assertThat(got.size()).isEqualTo(big.length() + 1);
        assertThat(got.toString(StandardCharsets.US_ASCII)).endsWith("x\n");
      }
    }
  }

  @Test
  void aClientThatWritesAfterItsReplyGetsACleanEndOfStreamHoweverManyCameBefore() throws Exception {
    // far more clients than maxClients within one linger period: connections closed at their end
    // of stream must not count against the lingering ones
    Path sock = dir.resolve("sock");
    SocketServer.Settings settings = new SocketServer.Settings(Duration.ofSeconds(30), 4, SocketServer.Settings.defaults().mode());
    try (SocketServer server = new SocketServer(sock, settings, (line, reply) -> reply.send("OK"))) {
      server.bind();
      server.start();
      for (int i = 0; i < 40; i++) {
        try (SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX)) {
          client.connect(UnixDomainSocketAddress.of(sock));
          client.write(ByteBuffer.wrap("STATE\n".getBytes(StandardCharsets.US_ASCII)));
          ByteBuffer buf = ByteBuffer.allocate(64);
          while (buf.position() < 3) {
            assertThat(client.read(buf)).as("client %d: the reply before the end of stream", i).isNotNegative();
          }
          // a second line after the reply: the server drains it (a lingering close), so the client
          // sees its end of stream, not a connection reset
          client.write(ByteBuffer.wrap("STATE\n".getBytes(StandardCharsets.US_ASCII)));
          client.shutdownOutput();
          while (client.read(buf) >= 0) {
            assertThat(buf.position()).as("client %d: nothing after the reply", i).isEqualTo(3);
          }
          assertThat(new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII)).isEqualTo("OK\n");
        }
      }
    }
  }
}
