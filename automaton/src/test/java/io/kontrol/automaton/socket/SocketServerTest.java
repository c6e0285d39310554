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
}
