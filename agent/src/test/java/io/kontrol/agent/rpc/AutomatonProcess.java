package io.kontrol.agent.rpc;

import static org.awaitility.Awaitility.await;

import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A real automaton ({@code io.kontrol.automaton.cli.AutomatonCommand}) in a child JVM on the test
 * classpath, driving a manifest written by the test, listening on a socket in a temp dir.
 */
public final class AutomatonProcess implements AutoCloseable {

  /** States every peer test uses: {@code ready} runs {@code true}, {@code slow} sleeps. */
  static final String MANIFEST = String.join("\n",
      "initial: setup",
      "terminal: shutdown",
      "states:",
      "- tag: setup",
      "  shell: 'true'",
      "  next: ['*']",
      "- tag: ready",
      "  shell: 'true'",
      "  next: ['*']",
      "- tag: slow",
      "  shell: sleep 30",
      "  next: ['*']",
      "- tag: echo",
      "  shell: printf '%s' \"$INPUT\" > \"$(dirname \"$SOCKET\")/input\"",
      "  next: ['*']",
      "- tag: shutdown",
      "  shell: 'true'",
      "");

  private final Process process;
  public final Path socket;
  public final Path dir;

  private AutomatonProcess(Process process, Path socket, Path dir) {
    this.process = process;
    this.socket = socket;
    this.dir = dir;
  }

  public static AutomatonProcess start(Path dir) throws IOException {
    Path manifest = dir.resolve("lifecycle.yml");
    Files.writeString(manifest, MANIFEST);
    Path socket = dir.resolve("sock");
    List<String> cmd = new ArrayList<>(List.of(javaBin(), "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", classpath(),
        "io.kontrol.automaton.cli.AutomatonCommand", manifest.toString(), "-s", socket.toString(), "-l", "-"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve("automaton.log").toFile()).start();
    AutomatonProcess a = new AutomatonProcess(p, socket, dir);
    AutomatonClient client = new AutomatonClient(socket);
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
      if (!p.isAlive()) {
        throw new IllegalStateException("automaton exited: " + Files.readString(dir.resolve("automaton.log")));
      }
      try {
        return client.send("STATE", Duration.ofSeconds(1)).equals("setup");
      } catch (IOException | TimeoutException e) {
        return false;
      }
    });
    return a;
  }

  public String state() throws IOException, TimeoutException {
    return new AutomatonClient(socket).send("STATE", Duration.ofSeconds(2));
  }

  public static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** The test classpath (surefire's full list when it hides it behind a manifest jar). */
  public static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(15, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }
}
