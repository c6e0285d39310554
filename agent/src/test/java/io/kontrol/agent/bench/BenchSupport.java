package io.kontrol.agent.bench;

import io.etcd.jetcd.ByteSequence;
import io.kontrol.agent.testing.EtcdCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Shared bits of the agent benchmarks: environments, percentiles, forked agents. */
final class BenchSupport {
  private BenchSupport() {}

  static Map<String, String> env(EtcdCluster etcd, String app, String id, String mode) {
    Map<String, String> e = new HashMap<>();
    e.put("KONTROL_ETCD", etcd.endpointList());
    e.put("KONTROL_MODE", mode);
    e.put("KONTROL_ID", id);
    e.put("KONTROL_IP", "127.0.0." + (2 + Math.floorMod(id.hashCode(), 250)));
    e.put("KONTROL_LABELS", "{\"app\":\"" + app + "\",\"role\":\"bench\"}");
    e.put("KONTROL_ANNOTATIONS", "{\"kontrol.unity3d.com/master\":\"" + app + "\"}");
    e.put("KONTROL_DAMPER", "0");
    e.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    return e;
  }

  /** {@code kontrol run} in a JVM of its own (so it can be SIGKILLed, or its CPU read). */
  static Process fork(Map<String, String> env, Path log) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
                java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx96m",
                "-cp", classPath(),
                "io.kontrol.agent.cli.KontrolCommand", "run")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    return pb.start();
  }

  /**
   * The class path of this benchmark: exec:java runs it in Maven's JVM under a class loader of
   * its own, so {@code java.class.path} is Maven's; the loader's URLs are the test class path.
   */
  static String classPath() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    if (cl instanceof java.net.URLClassLoader u && u.getURLs().length > 0) {
      return java.util.Arrays.stream(u.getURLs())
          .map(url -> {
            try {
              return Path.of(url.toURI()).toString();
            } catch (java.net.URISyntaxException e) {
              throw new IllegalStateException(e);
            }
          })
          .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    }
    return System.getProperty("java.class.path");
  }

  /** utime + stime of a process, in clock ticks (1/100 s on Linux). */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  static String percentiles(List<Long> millis) {
    List<Long> s = new ArrayList<>(millis);
    Collections.sort(s);
    return String.format(
        "n=%d p50=%d ms p99=%d ms min=%d ms max=%d ms", s.size(), pct(s, 50), pct(s, 99), s.get(0), s.get(s.size() - 1));
  }

  static long pct(List<Long> sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  static boolean logHas(Path log, String text) {
    try {
      return Files.exists(log) && Files.readString(log).contains(text);
    } catch (IOException e) {
      return false;
    }
  }
}
