package io.kontrol.images;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.images.builder.ImageFromDockerfile;

/**
 * Benchmark (a main, not a test): one kontrol/haproxy proxy (the image's default template) in front
 * of two downstream pods (images/src/test/docker/web), with the test etcd, on a Docker network.
 *
 * <ol>
 *   <li>Reloads under wrk, ours and the original's way side by side in one run, each with
 *       keep-alive and with {@code Connection: close}: ours is {@code configure} (rendered, {@code
 *       haproxy -c}, {@code reload} on the master CLI, confirmed with {@code show proc}) alternating
 *       between two host sets whose configurations differ in structure (every change a reload); the
 *       original's is {@code haproxy -D -sf <old pid>}, a new process for each change, with the same
 *       two rendered files (on port 81, in the same container), at the same pace. Prints
 *       requests/s, failed requests (socket errors and non-2xx) and failed requests per reload.
 *   <li>Reload-to-confirmed: from the reload command to the new worker in {@code show proc}, as
 *       each configure reports it; and the whole configure (render, check, reload; run inside the agent).
 *   <li>Registration to first proxied request: a third downstream pod is started RUNS times; from
 *       its agent's "registered" log line to its first answer through the proxy.
 * </ol>
 *
 * <pre>
 * images/build --tag T base etcd haproxy &amp;&amp; TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost \
 *   mvn -o -q -pl images test-compile exec:java -Dexec.classpathScope=test -Dkontrol.images.tag=T \
 *   -Dexec.mainClass=io.kontrol.images.HaproxyReloadBench [-Dexec.args="RELOADS RUNS"]
 * </pre>
 */
public final class HaproxyReloadBench {

  private static final Pattern CONFIRMED = Pattern.compile("confirmed by show proc (\\d+) ms after the reload command");
  private static final Pattern DURATION = Pattern.compile("\"durationMs\":(\\d+)");

  private HaproxyReloadBench() {}

  /** What one load run saw. */
  private record Run(String who, String mode, int reloads, Wrk.Result result, long millis) {
    void print() {
      System.out.printf(
          "%-9s %-10s %3d reloads in %5.1f s: %8d requests, %8.0f req/s, failed %d (connect %d, read %d, write %d, timeout %d, non-2xx %d), %.2f per reload%n",
          who, mode, reloads, millis / 1000.0, result.requests(), result.requests() * 1000.0 / millis, result.errors(),
          result.connect(), result.read(), result.write(), result.timeout(), result.status(), result.errors() / (double) reloads);
    }
  }

  public static void main(String[] args) throws Exception {
    int reloads = args.length > 0 ? Integer.parseInt(args[0]) : 30;
    int runs = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    LocalImages.require(LocalImages.HAPROXY, LocalImages.ETCD);
    String template = java.nio.file.Files.readString(HaproxyPod.imagesDir().resolve("haproxy/haproxy.cfg.j2"));
    List<HaproxyPod> pods = new ArrayList<>();
    try (Network network = Network.newNetwork(); GenericContainer<?> etcd = LocalImages.etcd(network)) {
      etcd.start();
      String webImage =
          new ImageFromDockerfile("kontrol-bench/web-" + LocalImages.TAG + "-" + System.nanoTime(), true)
              .withFileFromPath(".", HaproxyPod.webImageDir())
              .withBuildArg("HAPROXY", LocalImages.HAPROXY)
              .get();
      HaproxyPod proxy = HaproxyPod.proxy("proxy-1", network, template);
      HaproxyPod w1 = HaproxyPod.web("web-1", webImage, network, "web");
      HaproxyPod w2 = HaproxyPod.web("web-2", webImage, network, "web");
      pods.addAll(List.of(proxy, w1, w2));
      pods.parallelStream().forEach(HaproxyPod::start);
      NatsJoinBench.await(() -> proxy.config().contains(w1.ip() + ":80 check") && proxy.config().contains(w2.ip() + ":80 check"),
          Duration.ofSeconds(120), "both downstream pods in the proxy's configuration");

      // two host sets whose renderings differ in structure (a second app: new servers): reloads
      String a = "{\"hosts\":{\"web\":[\"" + w1.ip() + "\",\"" + w2.ip() + "\"]}}";
      String b = "{\"hosts\":{\"web\":[\"" + w1.ip() + "\"],\"web2\":[\"" + w2.ip() + "\"]}}";
      check(proxy.configure(b));
      String configB = proxy.config();
      check(proxy.configure(a));
      String configA = proxy.config();
      // the original's way, beside ours in the same container: the same files on port 81
      proxy.exec("mkdir", "-p", "/tmp/orig");
      writeFile(proxy, "/tmp/orig/a.cfg", configA.replace("bind                :80", "bind                :81"));
      writeFile(proxy, "/tmp/orig/b.cfg", configB.replace("bind                :80", "bind                :81"));
      execOk(proxy, "haproxy -D -p /tmp/orig/pid -f /tmp/orig/a.cfg");
      NatsJoinBench.await(() -> proxy.get(81, "/").startsWith("200 web-"), Duration.ofSeconds(10), "the original's way serves on :81");

      List<Long> confirmed = new ArrayList<>();
      List<Long> configures = new ArrayList<>();
      List<Run> results = new ArrayList<>();
      for (boolean close : List.of(false, true)) {
        String mode = close ? "close" : "keep-alive";
        // ours
        long t0 = System.nanoTime();
        Wrk ours = Wrk.start("http://" + proxy.ip() + ":80/", 16, close);
        for (int i = 0; i < reloads; i++) {
          check(proxy.configure(i % 2 == 0 ? b : a));
          String payload = proxy.payload();
          Matcher m = CONFIRMED.matcher(payload);
          if (!m.find()) {
            throw new IllegalStateException("configure did not reload: " + payload);
          }
          confirmed.add(Long.parseLong(m.group(1)));
          Matcher d = DURATION.matcher(payload);
          if (d.find()) {
            configures.add(Long.parseLong(d.group(1)));
          }
        }
        long oursMillis = (System.nanoTime() - t0) / 1_000_000;
        results.add(new Run("ours", mode, reloads, ours.stop(), oursMillis));
        long pace = oursMillis / reloads;

        // theirs, at the same pace
        t0 = System.nanoTime();
        Wrk theirs = Wrk.start("http://" + proxy.ip() + ":81/", 16, close);
        for (int i = 0; i < reloads; i++) {
          long next = t0 + (i + 1) * pace * 1_000_000;
          String file = i % 2 == 0 ? "/tmp/orig/b.cfg" : "/tmp/orig/a.cfg";
          execOk(proxy, "haproxy -D -p /tmp/orig/pid -f " + file + " -sf $(cat /tmp/orig/pid)");
          pauseUntil(next);
        }
        long theirsMillis = (System.nanoTime() - t0) / 1_000_000;
        results.add(new Run("haproxy -D -sf", mode, reloads, theirs.stop(), theirsMillis));
      }
      System.out.println();
      results.forEach(Run::print);
      System.out.printf("reload command -> new worker in show proc: p50 %d ms, p99 %d ms (n=%d)%n",
          NatsJoinBench.percentile(confirmed, 50), NatsJoinBench.percentile(confirmed, 99), confirmed.size());
      System.out.printf("whole configure that reloads (render, haproxy -c, reload, confirmed; in the agent): p50 %d ms, p99 %d ms (n=%d)%n",
          NatsJoinBench.percentile(configures, 50), NatsJoinBench.percentile(configures, 99), configures.size());

      // registration -> first proxied request
      check(proxy.configure(a));
      List<Long> served = new ArrayList<>();
      for (int i = 1; i <= runs; i++) {
        HaproxyPod third = HaproxyPod.web("web-3", webImage, network, "web");
        pods.add(third);
        third.start();
        Instant registered = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
          if (registered == null) {
            registered = third.registeredAt().orElse(null);
          }
          if (registered != null && proxy.get(80, "/").equals("200 web-3")) {
            break;
          }
          pauseUntil(System.nanoTime() + 20_000_000L);
        }
        if (registered == null || System.nanoTime() >= deadline) {
          throw new IllegalStateException("run " + i + ": web-3 not served through the proxy within 60 s");
        }
        long ms = Duration.between(registered, Instant.now()).toMillis();
        served.add(ms);
        System.out.printf("run %d: web-3 registered -> first proxied answer %d ms%n", i, ms);
        String gone = third.ip() + ":80 check";
        third.close();
        pods.remove(third);
        NatsJoinBench.await(() -> !proxy.config().contains(gone), Duration.ofSeconds(60), "web-3 out of the configuration");
      }
      System.out.printf("downstream pod registered -> first request proxied to it (damper %d s): p50 %d ms, p99 %d ms (n=%d)%n",
          HaproxyPod.DAMPER, NatsJoinBench.percentile(served, 50), NatsJoinBench.percentile(served, 99), served.size());
    } finally {
      for (HaproxyPod pod : pods) {
        pod.close();
      }
    }
  }

  private static void check(String answer) {
    if (!"OK".equals(answer)) {
      throw new IllegalStateException("configure answered " + answer);
    }
  }

  private static void execOk(HaproxyPod pod, String shell) {
    var r = pod.exec("sh", "-c", shell);
    if (r.getExitCode() != 0) {
      throw new IllegalStateException(shell + ": exit " + r.getExitCode() + ": " + r.getStdout() + r.getStderr());
    }
  }

  private static void writeFile(HaproxyPod pod, String path, String text) {
    execOk(pod, "printf '%s' '" + text.replace("'", "'\\''") + "' > " + path);
  }

  /** Paces the original's reloads to ours (a fixed schedule, not a synchronisation). */
  private static void pauseUntil(long nanoTime) throws InterruptedException {
    long left = nanoTime - System.nanoTime();
    if (left > 0) {
      Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
    }
  }
}
