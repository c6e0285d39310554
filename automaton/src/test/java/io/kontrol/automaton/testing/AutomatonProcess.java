package io.kontrol.automaton.testing;

import static org.awaitility.Awaitility.await;

import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real automaton: the CLI run as a separate JVM ({@code java -cp <test class path>
 * io.kontrol.automaton.cli.AutomatonCommand MANIFEST -s SOCKET -l LOG -d ...}), its stdout
 * captured. Readiness is awaited on the socket ({@code STATE} answered), never slept for.
 *
 * <p>The one fixture for every module's tests: the automaton module publishes it in its test jar
 * (a consumer depends on {@code io.kontrol:automaton} with {@code <type>test-jar</type>}, scope
 * test). {@link AutomatonExtension} starts and stops one for a test class or each test.
 */
public final class AutomatonProcess implements AutoCloseable {

  /** JVM flags for every subprocess: start-up time matters more than peak speed here. */
  public static final List<String> JVM_FLAGS = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx128m",
      "-Dfile.encoding=UTF-8", "-Djdk.lang.Process.launchMechanism=VFORK");

  private final Path dir;
  private final Path socket;
  private final Process process;
  private final StringBuffer output = new StringBuffer();
  private final Thread pump;

  private AutomatonProcess(Path dir, Path socket, Process process) {
    this.dir = dir;
    this.socket = socket;
    this.process = process;
    this.pump = new Thread(() -> drain(process.getInputStream(), output), "automaton-test-output");
    this.pump.setDaemon(true);
    this.pump.start();
  }

  /** Writes {@code manifest} to DIR/manifest.yml and starts automaton on DIR/sock; does not wait. */
  public static AutomatonProcess launch(Path dir, String manifest, String... extraArgs) throws IOException {
    Path file = dir.resolve("manifest.yml");
    Files.writeString(file, manifest);
    List<String> args = new ArrayList<>(List.of(file.toString(), "-s", dir.resolve("sock").toString(), "-l",
        dir.resolve("automaton.log").toString(), "-d"));
    args.addAll(Arrays.asList(extraArgs));
    return launchRaw(dir, dir.resolve("sock"), args);
  }

  /** Starts the CLI with exactly {@code args} in {@code dir}; does not wait. */
  public static AutomatonProcess launchRaw(Path dir, Path socket, List<String> args) throws IOException {
    Process p = new ProcessBuilder(javaCommand(args)).directory(dir.toFile()).redirectErrorStream(true).start();
    return new AutomatonProcess(dir, socket, p);
  }

  /** Starts and waits until it answers {@code STATE}. */
  public static AutomatonProcess start(Path dir, String manifest, String... extraArgs) throws IOException {
    AutomatonProcess a = launch(dir, manifest, extraArgs);
    try {
      a.awaitReady();
    } catch (RuntimeException | Error e) {
      a.close(); // prints what it said
      throw e;
    }
    return a;
  }

  public static List<String> javaCommand(List<String> args) {
    List<String> cmd = new ArrayList<>();
    // as the launcher does: a test run started in the background (SIGINT ignored on entry) must not
    // hand that to the automaton, whose JVM would then never see the SIGINT the tests send
    cmd.addAll(List.of("env", "--default-signal=INT,TERM"));
    cmd.add(javaBin());
    cmd.addAll(JVM_FLAGS);
    cmd.add("-cp");
    cmd.add(classpath());
    cmd.add("io.kontrol.automaton.cli.AutomatonCommand");
    cmd.addAll(args);
    return cmd;
  }

  /** The java of the JVM running the tests. */
  public static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /**
   * The test class path, for a child JVM: surefire's full list when it hides it behind a manifest
   * jar, else {@code java.class.path}.
   */
  public static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  /** Runs the CLI to completion ({@code send}, {@code check}, ...). */
  public static Result cli(Path dir, String... args) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(javaCommand(List.of(args))).directory(dir.toFile()).start();
    p.getOutputStream().close();
    StringBuffer out = new StringBuffer();
    StringBuffer err = new StringBuffer();
    Thread o = new Thread(() -> drain(p.getInputStream(), out));
    Thread e = new Thread(() -> drain(p.getErrorStream(), err));
    o.start();
    e.start();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("automaton " + String.join(" ", args) + " did not end within 30 s");
    }
    o.join(5000);
    e.join(5000);
    return new Result(p.exitValue(), out.toString(), err.toString());
  }

  /** A finished command: exit code and its output. */
  public record Result(int code, String out, String err) {}

  public void awaitReady() {
    AtomicReference<String> last = new AtomicReference<>();
    await("automaton answering on " + socket).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(25))
        .until(() -> {
          if (!process.isAlive()) {
            throw new AssertionError("automaton exited with " + process.exitValue() + ":\n" + output);
          }
          try {
            last.set(send("STATE"));
            return !last.get().isEmpty() && !last.get().equals("KO");
          } catch (IOException | TimeoutException e) {
            return false;
          }
        });
  }

  /** One command through {@link AutomatonClient}. */
  public String send(String line) throws IOException, TimeoutException {
    return new AutomatonClient(socket).send(line, Duration.ofSeconds(10));
  }

  public String state() throws IOException, TimeoutException {
    return send("STATE");
  }

  /** One command through the real socat, as the original's users do: {@code echo LINE | socat - SOCK}. */
  public String socat(String line) throws IOException, InterruptedException {
    return socat(dir, socket, (line + "\n").getBytes(StandardCharsets.UTF_8), 10);
  }

  /** Raw bytes through socat; {@code -t} seconds to wait for the reply after sending. */
  public static String socat(Path dir, Path socket, byte[] bytes, int waitSeconds) throws IOException, InterruptedException {
    if (!Files.isExecutable(Path.of("/usr/bin/socat"))) {
      throw new AssertionError("socat is not installed (apt-get install socat): the tests drive automaton with it");
    }
    Process p = new ProcessBuilder("/usr/bin/socat", "-t", String.valueOf(waitSeconds), "-", "UNIX-CONNECT:" + socket)
        .directory(dir.toFile()).redirectErrorStream(true).start();
    try (OutputStream in = p.getOutputStream()) {
      in.write(bytes);
    } catch (IOException e) {
      // the server may close before reading everything (line too long): the reply still counts
    }
    String reply = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(waitSeconds + 10L, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("socat did not end");
    }
    return reply.trim();
  }

  public Path socket() {
    return socket;
  }

  public Path dir() {
    return dir;
  }

  public Process process() {
    return process;
  }

  public long pid() {
    return process.pid();
  }

  /** Everything automaton printed so far (its log on stdout). */
  public String output() {
    return output.toString();
  }

  /** Waits until the output contains {@code text}. */
  public void awaitOutput(String text, Duration atMost) {
    await("automaton output containing '" + text + "'").atMost(atMost).pollInterval(Duration.ofMillis(20))
        .until(() -> output.indexOf(text) >= 0);
  }

  public void awaitOutput(String text) {
    awaitOutput(text, Duration.ofSeconds(10));
  }

  /** Sends a signal (TERM, INT, ...) to the automaton JVM. */
  public void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-s", name, String.valueOf(process.pid())).inheritIO().start();
    if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new AssertionError("kill -s " + name + " failed");
    }
  }

  /** Waits for the automaton to exit and returns its exit code. */
  public int awaitExit(Duration atMost) throws InterruptedException {
    if (!process.waitFor(atMost.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("automaton still running after " + atMost + ":\n" + output);
    }
    try {
      pump.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return process.exitValue();
  }

  /** Stops it as supervisord would (SIGTERM, so it kills what its scripts started), then by force. */
  @Override
  public void close() {
    if (process.isAlive()) {
      try {
        new ProcessBuilder("kill", "-s", "TERM", String.valueOf(process.pid())).start().waitFor(5, TimeUnit.SECONDS);
        process.waitFor(5, TimeUnit.SECONDS);
      } catch (IOException e) {
        // fall through to the forced stop
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    // kept in the test's report (surefire writes each class's stdout to a file)
    System.out.println("---- automaton pid " + process.pid() + " in " + dir + " ----\n" + output);
    if (process.isAlive()) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      try {
        process.waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void drain(InputStream in, StringBuffer into) {
    byte[] buf = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buf)) > 0) {
        into.append(new String(buf, 0, n, StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      // process gone
    }
  }
}
