package io.kontrol.automaton.socket;

import static org.awaitility.Awaitility.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.automaton.testing.AutomatonProcess;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Clients that misbehave get KO or a clean close, alone: after each test the same automaton still
 * answers and is still in its state.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class BadClientsTest {

  static final String MANIFEST = String.join("\n",
      "initial: idle",
      "terminal: end",
      "states:",
      "- tag: idle",
      "  next: [busy]",
      "- tag: busy",
      "  shell: sleep 300",
      "- tag: end",
      "");

  Path dir;
  AutomatonProcess automaton;
  ExecutorService pool = Executors.newCachedThreadPool();

  @BeforeAll
  void start() throws Exception {
    dir = Files.createTempDirectory("automaton-bad-clients");
    automaton = AutomatonProcess.start(dir, MANIFEST, "--read-timeout", "1");
  }

  @AfterAll
  void stop() {
    pool.shutdownNow();
    automaton.close();
  }

  @AfterEach
  void machineIsUnharmed() throws Exception {
    assertThat(automaton.process().isAlive()).isTrue();
    assertThat(automaton.state()).isEqualTo("idle");
    assertThat(automaton.socat("STATE")).isEqualTo("idle");
  }

  @Test
  void unknownCommandsEmptyLinesAndLowerCaseAreKo() throws Exception {
    for (String line : new String[] {"HELLO", "", "state", "goto busy", "Goto busy", "GOTO", "GOTO  busy", " STATE",
        "GOTO nosuch", "WAIT nosuch", "SET", "SET 9X y"}) {
      assertThat(automaton.socat(line)).as("'%s'", line).isEqualTo("KO");
    }
  }

  @Test
  void binaryBytesAreKo() throws Exception {
    assertThat(socat(new byte[] {0, 1, 2, (byte) 0xff, (byte) 0xfe, '\n'})).isEqualTo("KO");
    assertThat(socat(new byte[] {'G', 'O', 'T', 'O', ' ', 'b', 'u', 's', 'y', ' ', 0, '\n'})).isEqualTo("KO");
    assertThat(socat(new byte[] {'S', 'T', 'A', 'T', 'E', ' ', (byte) 0xc3, (byte) 0x28, '\n'})).as("not UTF-8").isEqualTo("KO");
    assertThat(socat("\u001b[2J\u001b[HSTATE\n".getBytes(StandardCharsets.UTF_8))).isEqualTo("KO");
  }

  @Test
  void aLineOver64KibIsKoAndNothingOfItIsApplied() throws Exception {
    String tooLong = "GOTO busy " + "x".repeat(SocketServer.MAX_LINE);
    assertThat(socat((tooLong + "\n").getBytes(StandardCharsets.US_ASCII))).isEqualTo("KO");
    assertThat(exchange((tooLong + "\n").getBytes(StandardCharsets.US_ASCII), false)).isEqualTo("KO");

    String atLimit = "SET BIG " + "y".repeat(SocketServer.MAX_LINE - "SET BIG ".length());
    assertThat(atLimit).hasSize(SocketServer.MAX_LINE);
    assertThat(socat((atLimit + "\n").getBytes(StandardCharsets.US_ASCII))).as("exactly 64 KiB is fine").isEqualTo("OK");
  }

  @Test
  void aOneGibibyteLineIsKoAndCutOffWhileOthersAreServedAndMemoryStaysBounded() throws Exception {
    long rssBefore = rssKib(automaton.pid());
    long gib = 1L << 30;
    CompletableFuture<long[]> flood = CompletableFuture.supplyAsync(() -> {
      long written = 0;
      try (SocketChannel c = connect()) {
        ByteBuffer chunk = ByteBuffer.wrap("x".repeat(1 << 20).getBytes(StandardCharsets.US_ASCII));
        c.write(ByteBuffer.wrap("GOTO busy ".getBytes(StandardCharsets.US_ASCII)));
        try {
          while (written < gib) {
            chunk.rewind();
            while (chunk.hasRemaining()) {
              written += c.write(chunk);
            }
          }
        } catch (IOException e) {
          // the server answered and closed: the rest of the gibibyte is never sent
        }
        return new long[] {written, readAll(c).equals("KO") ? 1 : 0};
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }, pool);
    // served meanwhile, one after the other
    for (int i = 0; i < 20; i++) {
      assertThat(automaton.send("STATE")).isEqualTo("idle");
    }
    long[] result = flood.get(60, TimeUnit.SECONDS);
    assertThat(result[1]).as("the flooding client got KO").isEqualTo(1);
    assertThat(result[0]).as("bytes it could send before the server closed").isLessThan(64L << 20);
    long grown = rssKib(automaton.pid()) - rssBefore;
    assertThat(grown).as("automaton's RSS growth in KiB").isLessThan(32 << 10);
  }

  /** Resident set size of a process, from /proc. */
  private static long rssKib(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no VmRSS for pid " + pid);
  }

  @Test
  void aClientThatNeverSendsANewlineGetsKoAfterTheReadTimeoutAndBlocksNobody() throws Exception {
    try (SocketChannel silent = connect()) {
      silent.write(ByteBuffer.wrap("STATE".getBytes(StandardCharsets.US_ASCII)));
      long t0 = System.nanoTime();
      assertThat(automaton.send("STATE")).as("others are served meanwhile").isEqualTo("idle");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(500));
      assertThat(readAll(silent)).isEqualTo("KO");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofMillis(500), Duration.ofSeconds(5));
    }
  }

  @Test
  void aLineWithoutNewlineEndedByEofCountsLikeTheOriginal() throws Exception {
    assertThat(exchange("STATE".getBytes(StandardCharsets.US_ASCII), true)).isEqualTo("idle");
    assertThat(socat("STATE".getBytes(StandardCharsets.US_ASCII))).isEqualTo("idle");
  }

  @Test
  void clientsThatDisconnectBeforeTheReplyHarmNothing() throws Exception {
    for (int i = 0; i < 20; i++) {
      try (SocketChannel c = connect()) {
        c.write(ByteBuffer.wrap("STATE\n".getBytes(StandardCharsets.US_ASCII)));
      }
      try (SocketChannel c = connect()) {
        // connects and leaves without a word
      }
      try (SocketChannel c = connect()) {
        c.write(ByteBuffer.wrap("STA".getBytes(StandardCharsets.US_ASCII)));
      }
      try (SocketChannel c = connect()) {
        c.write(ByteBuffer.wrap("WAIT nosuch\n".getBytes(StandardCharsets.US_ASCII)));
      }
    }
  }

  @Test
  void fiveHundredClientsAtOnce() throws Exception {
    List<SocketChannel> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 500; i++) {
        clients.add(connect());
      }
      // 0: STATE, 1: garbage, 2: silent, 3: leaves at once, 4: unknown state
      for (int i = 0; i < clients.size(); i++) {
        SocketChannel c = clients.get(i);
        switch (i % 5) {
          case 0 -> c.write(ByteBuffer.wrap("STATE\n".getBytes(StandardCharsets.US_ASCII)));
          case 1 -> c.write(ByteBuffer.wrap(new byte[] {0, (byte) 0xff, '\n'}));
          case 3 -> c.close();
          case 4 -> c.write(ByteBuffer.wrap("GOTO nosuch\n".getBytes(StandardCharsets.US_ASCII)));
          default -> { }
        }
      }
      long t0 = System.nanoTime();
      assertThat(automaton.send("STATE")).isEqualTo("idle");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("served while 500 others are connected").isLessThan(Duration.ofSeconds(1));

      List<CompletableFuture<String>> replies = new ArrayList<>();
      for (int i = 0; i < clients.size(); i++) {
        if (i % 5 == 3) {
          continue;
        }
        SocketChannel c = clients.get(i);
        replies.add(CompletableFuture.supplyAsync(() -> {
          try {
            return readAll(c);
          } catch (IOException e) {
            return "error: " + e;
          }
        }, pool));
      }
      int i = 0;
      for (int k = 0; k < clients.size(); k++) {
        if (k % 5 == 3) {
          continue;
        }
        String reply = replies.get(i++).get(10, TimeUnit.SECONDS);
        assertThat(reply).as("client %d", k).isEqualTo(k % 5 == 0 ? "idle" : "KO");
      }
    } finally {
      for (SocketChannel c : clients) {
        c.close();
      }
    }
  }

  @Test
  void manyLongUnfinishedLinesAreBoundedByTheBufferBudget() throws Exception {
    // 400 x 60 KiB = 24 MiB > the 16 MiB budget: the excess is answered KO, memory stays bounded
    byte[] chunk = "x".repeat(60 * 1024).getBytes(StandardCharsets.US_ASCII);
    List<SocketChannel> clients = new ArrayList<>();
    try {
      for (int i = 0; i < 400; i++) {
        SocketChannel c = connect();
        clients.add(c);
        try {
          c.write(ByteBuffer.wrap(chunk));
        } catch (IOException e) {
          // answered KO and closed already
        }
      }
      assertThat(automaton.send("STATE")).isEqualTo("idle");
      for (SocketChannel c : clients) {
        assertThat(readAll(c)).as("over budget at once, or timed out later: KO and a clean end").isEqualTo("KO");
      }
      assertThat(automaton.output()).contains("bytes of unfinished lines buffered, answering KO");
    } finally {
      for (SocketChannel c : clients) {
        c.close();
      }
    }
  }

  @Test
  void beyondMaxClientsNewcomersGetKoAndServiceResumes() throws Exception {
    Path other = Files.createTempDirectory("automaton-max-clients");
    // a read timeout far beyond readAll's 10 s: a KO for the extra client can only be the limit's,
    // never an idle timeout (idle timeouts have their own test above)
    try (AutomatonProcess small = AutomatonProcess.start(other, MANIFEST, "--max-clients", "5", "--read-timeout", "60")) {
      List<SocketChannel> held = new ArrayList<>();
      try {
        for (int i = 0; i < 5; i++) {
          held.add(connect(small.socket()));
        }
        // the listen backlog is FIFO: the server accepts the five held connections first
        try (SocketChannel extra = connect(small.socket())) {
          assertThat(readAll(extra)).as("the sixth client is over the limit").isEqualTo("KO");
        }
      } finally {
        for (SocketChannel c : held) {
          c.close();
        }
      }
      // the held ones are gone: the server counts them out and serves again
      await().atMost(Duration.ofSeconds(10)).until(() -> "idle".equals(small.send("STATE")));
    }
  }

  // ---------------------------------------------------------------------------------------------

  private String socat(byte[] bytes) throws Exception {
    return AutomatonProcess.socat(dir, automaton.socket(), bytes, 10);
  }

  private SocketChannel connect() throws IOException {
    return connect(automaton.socket());
  }

  private static SocketChannel connect(Path socket) throws IOException {
    SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
    c.connect(UnixDomainSocketAddress.of(socket));
    return c;
  }

  /** Writes (ignoring a reset once the server stopped reading), optionally half-closes, reads the reply. */
  private String exchange(byte[] bytes, boolean halfClose) throws IOException {
    try (SocketChannel c = connect()) {
      try {
        c.write(ByteBuffer.wrap(bytes));
        if (halfClose) {
          c.shutdownOutput();
        }
      } catch (IOException e) {
        // the server answered and closed before reading it all
      }
      return readAll(c);
    }
  }

  /** Reads until EOF, at most 10 s. */
  private static String readAll(SocketChannel c) throws IOException {
    CompletableFuture<String> f = CompletableFuture.supplyAsync(() -> {
      try {
        ByteBuffer buf = ByteBuffer.allocate(1024);
        StringBuilder sb = new StringBuilder();
        int n;
        while ((n = c.read(buf)) >= 0) {
          buf.flip();
          sb.append(StandardCharsets.UTF_8.decode(buf));
          buf.clear();
          if (n == 0) {
            Thread.onSpinWait();
          }
        }
        return sb.toString().trim();
      } catch (IOException e) {
        return "error: " + e;
      }
    });
    try {
      return f.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      c.close();
      throw new IOException("no complete reply within 10 s", e);
    }
  }
}
