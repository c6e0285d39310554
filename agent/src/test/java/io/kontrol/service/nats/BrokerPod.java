package io.kontrol.service.nats;

import static org.awaitility.Awaitility.await;

import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerServer;
import io.kontrol.agent.rpc.StatusSource;
import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A stand-in for a NATS pod's control plane, made of the real pieces: an automaton (child JVM)
 * whose {@code configure} state appends {@code $INPUT} to a file, behind a real peer API server
 * on a loopback port.
 */
public final class BrokerPod implements AutoCloseable {

  private static final String MANIFEST =
      String.join(
          "\n",
          "initial: setup",
          "terminal: shutdown",
          "states:",
          "- tag: setup",
          "  next: [configure]",
          "- tag: configure",
          "  force: true",
          "  shell: printf '%s\\n' \"$INPUT\" >> \"$(dirname \"$SOCKET\")/configured\"",
          "  next: [configure]",
          "- tag: shutdown",
          "");

  private final Process automaton;
  private final Path dir;
  private PeerServer server;

  private BrokerPod(Process automaton, Path dir, PeerServer server) {
    this.automaton = automaton;
    this.dir = dir;
    this.server = server;
  }

  public static BrokerPod start(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path manifest = Files.writeString(dir.resolve("lifecycle.yml"), MANIFEST);
    Path socket = dir.resolve("sock");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process p =
        new ProcessBuilder(
                java, "-XX:TieredStopAtLevel=1", "-cp", cp, "io.kontrol.automaton.cli.AutomatonCommand",
                manifest.toString(), "-s", socket.toString(), "-l", "-")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("automaton.log").toFile())
            .start();
    AutomatonClient client = new AutomatonClient(socket);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              if (!p.isAlive()) {
                throw new IllegalStateException("automaton exited: " + Files.readString(dir.resolve("automaton.log")));
              }
              try {
                return client.send("STATE", Duration.ofSeconds(1)).equals("setup");
              } catch (IOException | TimeoutException e) {
                return false;
              }
            });
    PeerServer server = PeerServer.start(PeerConfig.newBuilder().port(0).socket(socket).build(), StatusSource.none());
    return new BrokerPod(p, dir, server);
  }

  public int port() {
    return server.port();
  }

  /** Every $INPUT its configure state received, in order. */
  public List<String> configured() throws IOException {
    Path file = dir.resolve("configured");
    return Files.exists(file) ? Files.readAllLines(file, StandardCharsets.UTF_8) : List.of();
  }

  /** The pod's peer API goes away (the pod is gone); the automaton stays. */
  public void stopPeerApi() {
    server.close();
  }

  @Override
  public void close() throws InterruptedException {
    try {
      server.close();
    } finally {
      automaton.destroy();
      if (!automaton.waitFor(15, TimeUnit.SECONDS)) {
        automaton.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }
}
