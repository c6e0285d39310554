package io.kontrol.agent.boot;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark (not a test), against a real etcd on loopback:
 *
 * <ul>
 *   <li>{@code boot [RUNS]}: {@code kontrol boot} process start to the pod's record in etcd, with
 *       supervisord starting the automaton and the agent (child JVMs with the image's sidecar
 *       flags);
 *   <li>{@code entrypoint [RUNS]}: the same, started as the images start a pod: {@code
 *       images/base/entrypoint} ({@code -Dbench.entrypoint=FILE}) runs {@code kontrol boot
 *       --env-file} (from {@code -Dkontrol.dist}, which it needs) and execs supervisord;
 *   <li>{@code rss [SECONDS]}: three agents ({@code kontrol run}, master+slave of one group) idle
 *       for SECONDS, then the resident memory of each.
 * </ul>
 *
 * <pre>
 * java -cp CLASSPATH [-Dkontrol.dist=dist] io.kontrol.agent.boot.BootBench boot 5
 * java -cp CLASSPATH [...] io.kontrol.agent.boot.BootBench rss 600
 * (-Dkontrol.dist=DIR: the launchers DIR/bin/kontrol and DIR/bin/automaton, as a pod runs them,
 * with their JVM flags and DIR/lib/*.jsa when present; JAVA_HOME picks their JVM.
 * -Dkontrol.dist=DIR1,DIR2,...: boot and entrypoint alternate between the dists run by run
 * (RUNS each) and print each one's median and its ratio to the first's: on a shared machine, an
 * A/B that a change in load between two separate runs cannot skew. Without it:
 * the shaded jars of -Dkontrol.jar=... -Dautomaton.jar=..., else this classpath, with the
 * JVM flags of -Dbench.java.opts="..."; the pods' annotations, a JSON object, from -Dbench.annotations)
 * </pre>
 */
public final class BootBench {

  /** JVM flags when the bench starts the JVMs itself (no -Dkontrol.dist). */
  static final String JAVA_OPTS = "-Xms8m -Xmx96m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "
      + "-XX:MaxMetaspaceSize=96m -XX:ReservedCodeCacheSize=32m -XX:+ExitOnOutOfMemoryError -Xshare:auto";

  private BootBench() {}

  public static void main(String[] args) throws Exception {
    String what = args.length > 0 ? args[0] : "boot";
    try (EtcdCluster etcd = EtcdCluster.builder().withNodes(1).build()) {
      etcd.start();
      if (what.equals("rss")) {
        rss(etcd, args.length > 1 ? Integer.parseInt(args[1]) : 600);
      } else {
        boot(etcd, args.length > 1 ? Integer.parseInt(args[1]) : 5, what.equals("entrypoint"));
      }
    }
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /**
   * The command line of {@code kontrol} or {@code automaton}: as the image's launcher runs it
   * ({@code -jar} with the jar's class-data archive when there is one) when {@code
   * -Dkontrol.jar=...}/{@code -Dautomaton.jar=...} name the shaded jars, else from this classpath.
   */
  static List<String> launch(String tool) {
    return launch(tool, System.getProperty("kontrol.dist"));
  }

  /** As {@link #launch(String)}, from the launchers of {@code dist} when it is not null. */
  static List<String> launch(String tool, String dist) {
    if (dist != null) {
      return new ArrayList<>(List.of(Path.of(dist, "bin", tool).toAbsolutePath().toString()));
    }
    List<String> cmd = new ArrayList<>(List.of(java()));
    cmd.addAll(List.of(System.getProperty("bench.java.opts", JAVA_OPTS).trim().split("\\s+")));
    String jar = System.getProperty(tool + ".jar");
    if (jar != null) {
      Path jsa = Path.of(jar.replaceAll("\\.jar$", ".jsa"));
      if (Files.exists(jsa)) {
        cmd.add("-XX:SharedArchiveFile=" + jsa);
      }
      cmd.addAll(List.of("-jar", jar));
    } else {
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
          tool.equals("kontrol") ? "io.kontrol.agent.cli.KontrolCommand" : "io.kontrol.automaton.cli.AutomatonCommand"));
    }
    return cmd;
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static Map<String, String> env(EtcdCluster etcd, String app, String id, Path dir) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    String javaHome = System.getenv("JAVA_HOME");
    if (javaHome != null) {
      env.put("JAVA_HOME", javaHome);
    }
    env.put("HOME", dir.toString());
    env.put("KONTROL_ETCD", etcd.endpointList());
    env.put("KONTROL_MODE", "master,slave");
    env.put("KONTROL_ID", id);
    env.put("KONTROL_IP", "127.0.0." + (10 + Math.floorMod(id.hashCode(), 200)));
    env.put("KONTROL_LABELS", "{\"app\":\"" + app + "\",\"role\":\"bench\"}");
    env.put("KONTROL_ANNOTATIONS", System.getProperty("bench.annotations", "{}"));
    env.put("KONTROL_PORT", String.valueOf(freePort()));
    env.put("KONTROL_HTTP_PORT", "0");
    env.put("KONTROL_SOCKET", dir.resolve("sock").toString());
    env.put("AWS_EC2_METADATA_DISABLED", "true");
    String arenas = System.getenv("MALLOC_ARENA_MAX");
    if (arenas != null) {
      env.put("MALLOC_ARENA_MAX", arenas);
    }
    return env;
  }

  static void boot(EtcdCluster etcd, int runs, boolean viaEntrypoint) throws Exception {
    String dists = System.getProperty("kontrol.dist");
    List<String> variants = dists == null ? java.util.Collections.singletonList(null) : List.of(dists.split(","));
    long[][] ms = new long[variants.size()][runs];
    for (int r = 0; r < runs; r++) {
      for (int v = 0; v < variants.size(); v++) {
        ms[v][r] = bootOnce(etcd, r * variants.size() + v, variants.get(v), viaEntrypoint);
        System.out.printf("run %d%s: registered after %d ms%n", r, variants.size() > 1 ? " " + variants.get(v) : "", ms[v][r]);
      }
    }
    String what = viaEntrypoint ? "entrypoint (kontrol boot --env-file, exec supervisord)" : "kontrol boot";
    long first = 0;
    for (int v = 0; v < variants.size(); v++) {
      long[] sorted = ms[v].clone();
      Arrays.sort(sorted);
      long median = sorted[runs / 2];
      if (v == 0) {
        first = median;
      }
      System.out.printf("%s%s -> registered in etcd, %d runs: median %d ms, min %d ms, max %d ms%s%n",
          what, variants.size() > 1 ? " [" + variants.get(v) + "]" : "", runs, median, sorted[0], sorted[runs - 1],
          v > 0 ? String.format(" (%.2f x the first)", (double) median / first) : "");
    }
  }

  /** One boot from {@code dist}'s launchers (null: see {@link #launch(String)}); ms to registered. */
  static long bootOnce(EtcdCluster etcd, int r, String dist, boolean viaEntrypoint) throws Exception {
    Path dir = Files.createTempDirectory("boot-bench");
    Path programs = Files.createDirectories(dir.resolve("programs"));
    Files.writeString(dir.resolve("lifecycle.yml"),
        "initial: setup\nterminal: shutdown\nstates:\n- tag: setup\n  next: ['*']\n- tag: shutdown\n");
    Files.writeString(programs.resolve("automaton.conf"), "[program:automaton]\ncommand="
        + String.join(" ", launch("automaton", dist)) + " " + dir.resolve("lifecycle.yml") + " -s " + dir.resolve("sock")
        + " -l -\npriority=10\nstartsecs=0\nstopsignal=INT\nstopasgroup=true\nstdout_logfile=" + dir.resolve("a.log")
        + "\nredirect_stderr=true\n");
    Files.writeString(programs.resolve("kontrol.conf"), "[program:kontrol]\ncommand="
        + String.join(" ", launch("kontrol", dist)) + " run\npriority=20\nstartsecs=0\nstopsignal=INT\nstdout_logfile="
        + dir.resolve("k.log") + "\nredirect_stderr=true\n");
    String app = "bench" + r + System.nanoTime() % 10_000;
    Map<String, String> env = env(etcd, app, "boot-" + r, dir);
    env.put("KONTROL_SUPERVISOR_DIR", programs.toString());
    env.put("KONTROL_TELEGRAF_CONF", dir.resolve("telegraf.conf").toString());
    List<String> cmd;
    if (viaEntrypoint) {
      if (dist == null) {
        throw new IllegalArgumentException("entrypoint: -Dkontrol.dist=DIR names the launchers it runs");
      }
      cmd = new ArrayList<>(List.of("/bin/sh",
          Path.of(System.getProperty("bench.entrypoint", "images/base/entrypoint")).toAbsolutePath().toString()));
      env.put("PATH", Path.of(dist, "bin").toAbsolutePath() + ":" + env.get("PATH"));
      env.put("KONTROL_BOOT_ENV", dir.resolve("run/boot.env").toString());
    } else {
      cmd = launch("kontrol", dist);
      cmd.add("boot");
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("boot.log").toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    try (Client c = etcd.newClient()) {
      ByteSequence key = ByteSequence.from(new Group("default", app).podKey("boot-" + r), StandardCharsets.UTF_8);
      long t0 = System.nanoTime();
      Process boot = pb.start();
      try {
        while (!registered(c, key)) {
          if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(60)) {
            throw new IllegalStateException("not registered after 60 s; see " + dir);
          }
          Thread.sleep(5); // polling etcd: the measured event is in another process
        }
        return (System.nanoTime() - t0) / 1_000_000;
      } finally {
        // SIGTERM: supervisord (or boot) stops its programs; a failed run leaves nothing behind
        boot.destroy();
        if (!boot.waitFor(120, TimeUnit.SECONDS)) {
          boot.descendants().forEach(ProcessHandle::destroyForcibly);
          boot.destroyForcibly();
        }
      }
    }
  }

  /** Whether the record is there; a read slower than 5 s (a loaded machine) counts as not yet. */
  static boolean registered(Client c, ByteSequence key) throws Exception {
    try {
      return c.getKVClient().get(key).get(5, TimeUnit.SECONDS).getCount() > 0;
    } catch (java.util.concurrent.TimeoutException e) {
      return false;
    }
  }

  static void rss(EtcdCluster etcd, int seconds) throws Exception {
    String app = "rss" + System.nanoTime() % 10_000;
    List<Process> agents = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        Path dir = Files.createTempDirectory("rss-bench");
        List<String> cmd = launch("kontrol");
        cmd.add("run");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("k.log").toFile());
        pb.environment().clear();
        pb.environment().putAll(env(etcd, app, "pod-" + i, dir));
        agents.add(pb.start());
      }
      System.out.printf("3 agents started; idle for %d s%n", seconds);
      Thread.sleep(seconds * 1000L); // the idle period is what is measured
      for (Process p : agents) {
        String status = Files.readString(Path.of("/proc/" + p.pid() + "/status"));
        String rss = String.join(", ", status.lines().filter(l -> l.startsWith("VmRSS") || l.startsWith("RssAnon") || l.startsWith("RssFile")).toList());
        System.out.printf("agent pid %d alive=%s %s%n", p.pid(), p.isAlive(), rss.replaceAll("\\s+", " "));
      }
    } finally {
      for (Process p : agents) {
        p.destroy();
        p.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }
}
