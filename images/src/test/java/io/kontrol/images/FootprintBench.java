package io.kontrol.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * Benchmark (a main, not a test): what the sidecar costs next to the service. Three kontrol/nats
 * pods mesh; after SECONDS of steady state, for each pod: its memory as {@code docker stats}
 * reports it, the resident set of every process in it ({@code ps} inside the pod), and the
 * sidecar's share (pod memory minus nats-server's RSS). Then the image layers above the Debian
 * base ({@code docker image inspect}).
 *
 * <pre>
 * images/build --tag T &amp;&amp; TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost \
 *   mvn -o -q -pl images test-compile exec:java -Dexec.classpathScope=test -Dkontrol.images.tag=T \
 *   -Dexec.mainClass=io.kontrol.images.FootprintBench [-Dexec.args=SECONDS]
 * </pre>
 *
 * <p>SECONDS defaults to 120. The pods run as the image does: {@code kontrol boot --env-file}
 * prepares them and exits, supervisord is PID 1.
 */
public final class FootprintBench {

  private FootprintBench() {}

  public static void main(String[] args) throws Exception {
    int settle = args.length > 0 ? Integer.parseInt(args[0]) : 120;
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    List<NatsPod> pods = new ArrayList<>();
    try (Network network = Network.newNetwork();
        GenericContainer<?> etcd =
            new GenericContainer<>(LocalImages.ETCD)
                .withNetwork(network)
                .withNetworkAliases("etcd")
                .waitingFor(Wait.forLogMessage(".*ready to serve client requests.*", 1))) {
      etcd.start();
      for (int i = 1; i <= 3; i++) {
        pods.add(new NatsPod("nats-" + i, network));
      }
      pods.parallelStream().forEach(NatsPod::start);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (!NatsPod.meshed(pods)) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("3 pods did not mesh within 90 s");
        }
        // polling other processes' HTTP endpoints: nothing to be notified by
        Thread.sleep(250);
      }
      System.out.printf("3 pods meshed; steady state for %d s%n", settle);
      Thread.sleep(Duration.ofSeconds(settle).toMillis()); // the measured state is "idle for SECONDS"
      List<Double> shares = new ArrayList<>();
      for (NatsPod pod : pods) {
        double podMib = dockerStatsMib(pod.containerId());
        Map<String, Double> rss = processRss(pod);
        double nats = rss.entrySet().stream().filter(e -> e.getKey().contains("nats-server")).mapToDouble(Map.Entry::getValue).sum();
        double share = podMib - nats;
        shares.add(share);
        System.out.printf(Locale.ROOT, "%s: pod %.1f MiB (docker stats), nats-server %.1f MiB, sidecar share %.1f MiB%n",
            pod.name, podMib, nats, share);
        rss.forEach((what, mib) -> System.out.printf(Locale.ROOT, "    %7.1f MiB  %s%n", mib, what));
        System.out.printf(Locale.ROOT, "    cgroup: %s%n", cgroupMemory(pod));
      }
      System.out.printf(Locale.ROOT, "sidecar share (pod memory - nats-server RSS): %s MiB%n",
          String.join(" / ", shares.stream().map(s -> String.format(Locale.ROOT, "%.1f", s)).toList()));
      long debian = DockerClientFactory.instance().client().inspectImageCmd("debian:bookworm-slim").exec().getSize();
      for (String image : List.of("kontrol/base:" + LocalImages.TAG, LocalImages.NATS)) {
        long size = DockerClientFactory.instance().client().inspectImageCmd(image).exec().getSize();
        System.out.printf("image %s: %d MB, of which %d MB above debian:bookworm-slim%n", image, size / 1_000_000,
            (size - debian) / 1_000_000);
      }
    } finally {
      for (NatsPod pod : pods) {
        pod.close();
      }
    }
  }

  /** The container's memory as {@code docker stats} shows it (usage minus inactive file cache). */
  static double dockerStatsMib(String container) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container)
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("docker stats " + container + ": " + out);
    }
    // "81.2MiB / 23.4GiB"
    String used = out.split("/")[0].trim();
    double value = Double.parseDouble(used.replaceAll("[^0-9.]", ""));
    if (used.endsWith("GiB")) {
      return value * 1024;
    } else if (used.endsWith("KiB")) {
      return value / 1024;
    } else if (used.endsWith("B") && !used.endsWith("MiB")) {
      return value / 1024 / 1024;
    }
    return value;
  }

  /**
   * What the pod's memory is made of, from its cgroup's {@code memory.stat} (v2, else v1): anon,
   * active and inactive file pages, in MiB ({@code docker stats} counts all but the inactive file).
   */
  static String cgroupMemory(NatsPod pod) {
    String stat = pod.exec("sh", "-c", "cat /sys/fs/cgroup/memory.stat 2>/dev/null || cat /sys/fs/cgroup/memory/memory.stat").getStdout();
    Map<String, Long> v = new LinkedHashMap<>();
    for (String line : stat.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 2 && f[1].matches("\\d+")) {
        v.put(f[0].replaceFirst("^total_", ""), Long.parseLong(f[1]));
      }
    }
    StringBuilder out = new StringBuilder();
    for (String k : List.of("anon", "rss", "active_file", "inactive_file", "shmem")) {
      if (v.containsKey(k)) {
        out.append(String.format(Locale.ROOT, "%s %.1f MiB  ", k, v.get(k) / 1048576.0));
      }
    }
    return out.toString().trim();
  }

  /** {@code ps} inside the pod: RSS in MiB by process (pid and command line). */
  static Map<String, Double> processRss(NatsPod pod) {
    String ps = pod.exec("ps", "-eo", "pid=,rss=,args=").getStdout();
    Map<String, Double> rss = new LinkedHashMap<>();
    for (String line : ps.split("\n")) {
      String[] f = line.trim().split("\\s+", 3);
      if (f.length < 3 || f[2].startsWith("ps ")) {
        continue;
      }
      String args = f[2].replaceAll(" -X\\S+| -D\\S+", "");
      rss.put(f[0] + " " + (args.length() > 90 ? args.substring(0, 90) + "..." : args), Long.parseLong(f[1]) / 1024.0);
    }
    return rss;
  }
}
