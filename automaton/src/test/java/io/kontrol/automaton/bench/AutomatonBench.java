package io.kontrol.automaton.bench;

import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Latency of a real automaton process, seen from a client on the same machine.
 *
 * <p>Starts automaton (the installed {@code dist/bin/automaton} launcher when present, so the
 * production JVM flags are measured; otherwise {@code java -cp} with the test class path), warms it
 * up, then reports p50/p90/p99/max of:
 *
 * <ul>
 *   <li>{@code STATE} round trip (connect, write, read the reply until EOF, close);
 *   <li>{@code WAIT} to a state whose script is {@code true} (spawn, exit, reply);
 *   <li>{@code GOTO} ack (to states without scripts);
 *   <li>the classic {@code echo STATE | socat - SOCK} and {@code automaton send STATE}, which
 *       include starting a process.
 * </ul>
 *
 * <pre>
 * mvn -o -q -pl automaton test-compile exec:java -Dexec.mainClass=io.kontrol.automaton.bench.AutomatonBench -Dexec.classpathScope=test
 * </pre>
 *
 * Arguments (all optional): {@code iterations=N} (STATE; others scale from it), {@code
 * launcher=PATH}.
 */
public final class AutomatonBench {

  static final String MANIFEST = String.join("\n",
      "initial: idle",
      "terminal: end",
      "states:",
      "- tag: idle",
      "  next: ['*']",
      "- tag: noop",
      "  shell: 'true'",
      "  next: ['*']",
      "- tag: ping",
      "  next: ['*']",
      "- tag: end",
      "");

  public static void main(String[] args) throws Exception {
    int iterations = 10_000;
    Path launcher = null;
    for (String a : args) {
      if (a.startsWith("iterations=")) {
        iterations = Integer.parseInt(a.substring("iterations=".length()));
      } else if (a.startsWith("launcher=")) {
        launcher = Path.of(a.substring("launcher=".length()));
      }
    }
    if (launcher == null) {
      for (Path p : List.of(Path.of("dist/bin/automaton"), Path.of("../dist/bin/automaton"))) {
        if (Files.isExecutable(p)) {
          launcher = p.toAbsolutePath().normalize();
          break;
        }
      }
    }

    Path dir = Files.createTempDirectory("automaton-bench");
    Path manifest = dir.resolve("bench.yml");
    Files.writeString(manifest, MANIFEST);
    Path sock = dir.resolve("sock");
    List<String> runArgs = List.of(manifest.toString(), "-s", sock.toString(), "-l", "-");
    List<String> cmd = launcher != null ? prepend(launcher.toString(), runArgs) : javaCommand(runArgs);

    Process automaton = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    Thread drain = new Thread(() -> discard(automaton.getInputStream()), "bench-drain");
    drain.setDaemon(true);
    drain.start();
    AutomatonClient client = new AutomatonClient(sock);
    try {
      long t0 = System.nanoTime();
      awaitReady(client, automaton);
      double readyMs = (System.nanoTime() - t0) / 1e6;

      System.out.println("# automaton bench");
      System.out.println("date:      " + LocalDate.now());
      System.out.println("machine:   " + cpu() + ", " + Runtime.getRuntime().availableProcessors() + " CPUs, Linux "
          + System.getProperty("os.version"));
      System.out.println("java:      " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
      System.out.println("automaton: " + (launcher != null ? launcher + " (production JVM flags)" : "java -cp (test class path)"));
      System.out.printf(Locale.ROOT, "start-up:  %.0f ms from exec to the first STATE answered%n", readyMs);
      System.out.println();

      // warm-up: JIT (C1 only with the launcher's flags), page cache, socket paths
      run(client, "STATE", iterations / 5);
      run(client, "WAIT noop", Math.max(50, iterations / 50));
      gotoAlternating(client, iterations / 10);

      System.out.println("| operation | n | p50 | p90 | p99 | max |");
      System.out.println("|---|---|---|---|---|---|");
      report("STATE round trip (AutomatonClient)", run(client, "STATE", iterations));
      report("WAIT to a state whose script is `true`", run(client, "WAIT noop", Math.max(100, iterations / 10)));
      report("GOTO ack (states without script)", gotoAlternating(client, Math.max(100, iterations / 2)));
      report("`echo STATE \\| socat - SOCK` (incl. socat start)", socat(dir, sock, Math.max(20, iterations / 50)));
      List<String> send = launcher != null
          ? List.of(launcher.toString(), "send", "-s", sock.toString(), "STATE")
          : javaCommand(List.of("send", "-s", sock.toString(), "STATE"));
      report("`automaton send STATE` (incl. JVM start)", command(dir, send, 10));
    } finally {
      try {
        client.send("DIE", Duration.ofSeconds(5));
      } catch (IOException e) {
        // already gone
      }
      if (!automaton.waitFor(10, TimeUnit.SECONDS)) {
        automaton.destroyForcibly();
      }
      try (var files = Files.walk(dir)) {
        files.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static long[] run(AutomatonClient client, String line, int n) throws Exception {
    long[] samples = new long[n];
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      String reply = client.send(line, Duration.ofSeconds(10));
      samples[i] = System.nanoTime() - t;
      if (reply.equals("KO") || reply.isEmpty()) {
        throw new IllegalStateException(line + " answered '" + reply + "'");
      }
    }
    return samples;
  }

  /** GOTO ping / GOTO idle alternately: two states without scripts, never refused. */
  private static long[] gotoAlternating(AutomatonClient client, int n) throws Exception {
    long[] samples = new long[n];
    for (int i = 0; i < n; i++) {
      String line = (i % 2 == 0) ? "GOTO ping" : "GOTO idle";
      long t = System.nanoTime();
      String reply = client.send(line, Duration.ofSeconds(10));
      samples[i] = System.nanoTime() - t;
      if (!reply.equals("OK")) {
        throw new IllegalStateException(line + " answered '" + reply + "'");
      }
    }
    return samples;
  }

  private static long[] socat(Path dir, Path sock, int n) throws Exception {
    long[] samples = new long[n];
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      Process p = new ProcessBuilder("/usr/bin/socat", "-", "UNIX-CONNECT:" + sock).directory(dir.toFile())
          .redirectErrorStream(true).start();
      try (OutputStream in = p.getOutputStream()) {
        in.write("STATE\n".getBytes(StandardCharsets.US_ASCII));
      }
      String reply = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor();
      samples[i] = System.nanoTime() - t;
      if (reply.isEmpty() || reply.equals("KO")) {
        throw new IllegalStateException("socat STATE answered '" + reply + "'");
      }
    }
    return samples;
  }

  private static long[] command(Path dir, List<String> cmd, int n) throws Exception {
    long[] samples = new long[n];
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      int code = p.waitFor();
      samples[i] = System.nanoTime() - t;
      if (code != 0) {
        throw new IllegalStateException(String.join(" ", cmd) + " exited " + code + ": " + out);
      }
    }
    return samples;
  }

  private static void report(String what, long[] samples) {
    long[] s = samples.clone();
    Arrays.sort(s);
    System.out.printf(Locale.ROOT, "| %s | %d | %s | %s | %s | %s |%n", what, s.length,
        fmt(pct(s, 50)), fmt(pct(s, 90)), fmt(pct(s, 99)), fmt(s[s.length - 1]));
  }

  private static long pct(long[] sorted, double p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  private static String fmt(long nanos) {
    if (nanos < 1_000_000) {
      return String.format(Locale.ROOT, "%d µs", nanos / 1000);
    }
    return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
  }

  private static void awaitReady(AutomatonClient client, Process p) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("automaton exited with " + p.exitValue());
      }
      try {
        if (!client.send("STATE", Duration.ofSeconds(1)).isEmpty()) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(5);
    }
    throw new IllegalStateException("automaton did not answer within 30 s");
  }

  private static List<String> javaCommand(List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Xss512k", "-Xms8m", "-Xmx64m"));
    cmd.add("-cp");
    cmd.add(classPath());
    cmd.add("io.kontrol.automaton.cli.AutomatonCommand");
    cmd.addAll(args);
    return cmd;
  }

  /** Under exec:java the project's class path is the context class loader's, not java.class.path. */
  private static String classPath() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    if (cl instanceof URLClassLoader) {
      return Arrays.stream(((URLClassLoader) cl).getURLs()).map(AutomatonBench::toPath).collect(Collectors.joining(":"));
    }
    return System.getProperty("java.class.path");
  }

  private static String toPath(URL url) {
    try {
      return Path.of(url.toURI()).toString();
    } catch (Exception e) {
      return url.getPath();
    }
  }

  private static List<String> prepend(String first, List<String> rest) {
    List<String> l = new ArrayList<>();
    l.add(first);
    l.addAll(rest);
    return l;
  }

  private static String cpu() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return System.getProperty("os.arch");
  }

  private static void discard(InputStream in) {
    byte[] buf = new byte[8192];
    try (in) {
      while (in.read(buf) >= 0) {
        // automaton's log: not part of the measure
      }
    } catch (IOException e) {
      // process gone
    }
  }

  private AutomatonBench() {}
}
