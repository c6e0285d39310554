package io.kontrol.automaton.socket;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.kontrol.automaton.machine.Machine;
import io.kontrol.automaton.machine.MachineSettings;
import io.kontrol.automaton.manifest.Manifest;
import io.kontrol.automaton.manifest.ManifestLoader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Any byte stream from a client, against a real {@link SocketServer} with a real {@link Machine}
 * behind it: the bytes are written in random chunks, then the client half-closes (or goes away
 * without reading). The reply is one line, and the one the protocol gives for the first line:
 * {@code KO} for anything {@link Request#parse} refuses or that is not UTF-8, a tag of the manifest
 * for {@code STATE}, {@code OK} or {@code KO} otherwise. After every input the server still
 * serves a fresh client and the machine still answers. {@code DIE} is left out (it ends the run).
 *
 * <p>The machine's states have no scripts, so no process is started per input.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SocketProtocolFuzz {

  static final String MANIFEST = String.join("\n",
      "initial: idle",
      "terminal: end",
      "states:",
      "- tag: idle",
      "  next: [idle, 'conf*', '[ab]?']",
      "- tag: configure",
      "  next: ['*']",
      "- tag: a1",
      "  next: [idle]",
      "- tag: b2",
      "- tag: end",
      "");
  static final Set<String> TAGS = Set.of("idle", "configure", "a1", "b2", "end");

  static Path dir;
  static Path socket;
  static Machine machine;
  static SocketServer server;

  @BeforeAll
  static void start() throws Exception {
    // one log line per refused request: thousands a second while fuzzing
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("automaton.socket")).setLevel(ch.qos.logback.classic.Level.WARN);
    dir = Files.createTempDirectory("socket-fuzz");
    socket = dir.resolve("sock");
    Manifest m = ManifestLoader.parse("lifecycle.yml", MANIFEST);
    machine = new Machine(m, MachineSettings.defaults(), socket);
    machine.start();
    server = new SocketServer(socket, new SocketServer.Settings(Duration.ofSeconds(2), 64, SocketServer.Settings.defaults().mode()),
        new Dispatcher(machine));
    server.bind();
    server.start();
  }

  @AfterAll
  static void stop() throws IOException {
    if (server != null) {
      server.close();
    }
    if (machine != null) {
      machine.close();
    }
    Files.deleteIfExists(socket);
    Files.deleteIfExists(dir);
  }

  // CI fuzzes a fixed number of inputs from a fixed seed (see CONTRIBUTING.md, "Fuzz")
  @FuzzTest(maxDuration = "30s", maxExecutions = 20000)
  void anyClientBytes(FuzzedDataProvider data) throws IOException {
    boolean readReply = data.consumeBoolean();
    int chunks = data.consumeInt(1, 8);
    byte[][] parts = new byte[chunks][];
    for (int i = 0; i < chunks - 1; i++) {
      parts[i] = data.consumeBytes(data.consumeInt(0, 256));
    }
    parts[chunks - 1] = data.consumeRemainingAsBytes();
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      all.writeBytes(p);
    }
    byte[] stream = all.toByteArray();
    String first = firstLine(stream);
    if (first != null && Request.parse(first) instanceof Request.Die) {
      return; // DIE ends the machine: covered by the protocol tests
    }

    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      try {
        for (byte[] p : parts) {
          ch.write(ByteBuffer.wrap(p));
        }
        ch.shutdownOutput();
      } catch (IOException e) {
        // the server may answer and close before it has read everything (a line over the limit)
      }
      if (readReply) {
        String reply = readAll(ch);
        assertThat(reply).as("one line").endsWith("\n");
        String answer = reply.substring(0, reply.length() - 1);
        assertThat(answer).doesNotContain("\n");
        if (lineBytes(stream) > SocketServer.MAX_LINE) {
          assertThat(answer).isEqualTo("KO");
        } else if (first == null || Request.parse(first) instanceof Request.Invalid) {
          assertThat(answer).as("reply to %s", first == null ? "non-UTF-8 bytes" : Dispatcher.abbreviate(first)).isEqualTo("KO");
        } else if (Request.parse(first) instanceof Request.State) {
          assertThat(answer).isIn(TAGS);
        } else {
          assertThat(answer).isIn("OK", "KO");
        }
      }
    }
    // the next client is served, and the machine is still in one of its states
    assertThat(send("STATE")).isIn(TAGS);
  }

  static int lineBytes(byte[] b) {
    int end = 0;
    while (end < b.length && b[end] != '\n') {
      end++;
    }
    return end;
  }

  /** The first line as the server sees it (up to the first newline or the end), or null if not UTF-8. */
  static String firstLine(byte[] b) {
    int end = lineBytes(b);
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, 0, end))
          .toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  static String send(String line) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
      ch.shutdownOutput();
      return readAll(ch).strip();
    }
  }

  static String readAll(SocketChannel ch) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer buf = ByteBuffer.allocate(4096);
    while (ch.read(buf) >= 0) {
      buf.flip();
      out.write(buf.array(), 0, buf.limit());
      buf.clear();
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
