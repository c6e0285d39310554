package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.images.builder.ImageFromDockerfile;

/**
 * Two kontrol/haproxy proxies (the seed's HTTP and TCP templates, unchanged) in front of
 * downstream HTTP pods of a small image the test builds on kontrol/haproxy (no pull;
 * images/src/test/docker/web), with the test etcd, on a Docker network: downstream pods come and go through both
 * proxies; reloads under wrk lose nothing (and a restart does, which proves wrk sees losses);
 * slot churn needs no reload; every bad template is refused while the proxy keeps serving. The
 * steps build on each other, in order.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class HaproxyIT {

  private static final String HTTP_TEMPLATE = template("seed-haproxy-http.j2");
  private static final String TCP_TEMPLATE = template("seed-haproxy-tcp.j2");
  private static final String DEFAULT_TEMPLATE = read(Path.of("haproxy/haproxy.cfg.j2"));

  private Network network;
  private GenericContainer<?> etcd;
  /** The etcds that replaced a wiped one. */
  private final List<GenericContainer<?>> etcds = new ArrayList<>();
  private String webImage;
  private final List<HaproxyPod> started = new ArrayList<>();
  private HaproxyPod p1;
  private HaproxyPod p2;
  private final List<HaproxyPod> webs = new CopyOnWriteArrayList<>();

  private static String read(Path path) {
    try {
      return Files.readString(path.isAbsolute() || Files.exists(path) ? path : Path.of("..", "images").resolve(path), StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String template(String name) {
    return read(Path.of("../agent/src/test/resources/render", name));
  }

  @BeforeAll
  @SuppressWarnings("resource")
  void start() {
    LocalImages.require(LocalImages.HAPROXY, LocalImages.ETCD);
    // its own subnet: the etcd that replaces a wiped one takes the old one's address
    network = DockerNetworks.withOwnSubnet();
    etcd = LocalImages.etcd(network);
    etcd.start();
    // downstream pods: the agent (slave of the proxies' group) and an HTTP server answering its
    // host name, built on kontrol/haproxy (images/src/test/docker/web, used by scripts/demo too)
    webImage =
        new ImageFromDockerfile("kontrol-it/web-" + LocalImages.TAG + "-" + System.nanoTime(), true)
            .withFileFromPath(".", HaproxyPod.webImageDir())
            .withBuildArg("HAPROXY", LocalImages.HAPROXY)
            .get();
  }

  @AfterAll
  void stopAll() {
    Path logs = Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs"));
    for (HaproxyPod pod : started) {
      pod.saveLogs(logs);
      pod.close();
    }
    for (GenericContainer<?> e : etcds) {
      try {
        e.stop();
      } catch (RuntimeException gone) {
        // the wiped one was removed by the test itself
      }
    }
    if (etcd != null && !etcds.contains(etcd)) {
      etcd.stop();
    }
    if (network != null) {
      network.close();
    }
  }

  private HaproxyPod track(HaproxyPod pod) {
    started.add(pod);
    return pod;
  }

  private List<HaproxyPod> proxies() {
    return List.of(p1, p2);
  }

  /**
   * The host names that answered {@code n} requests through a proxy's port 80, each on a new
   * connection (proxy-2's template is TCP mode: one server per connection).
   */
  private static List<String> through(HaproxyPod proxy, int n) {
    List<String> bodies = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      bodies.add(proxy.getOnce(80, "/"));
    }
    return bodies;
  }

  /**
   * Every pod of {@code pods} answers through every proxy within {@code bound} of registering;
   * prints how long each took.
   */
  private void awaitServedWithin(List<HaproxyPod> pods, Duration bound) {
    for (HaproxyPod pod : pods) {
      Instant registered =
          await().atMost(Duration.ofSeconds(60)).until(() -> pod.registeredAt().orElse(null), t -> t != null);
      for (HaproxyPod proxy : proxies()) {
        await()
            .atMost(bound.plusSeconds(2)) // beyond the bound, to report the measured time
            .pollInterval(Duration.ofMillis(100))
            .until(() -> through(proxy, 4).contains("200 " + pod.name));
        Duration took = Duration.between(registered, Instant.now());
        System.out.printf("%s served through %s %d ms after registering%n", pod.name, proxy.name, took.toMillis());
        assertThat(took).as(pod.name + " through " + proxy.name).isLessThanOrEqualTo(bound);
      }
    }
  }

  @Test
  @Order(1)
  void everyDownstreamPodIsServedThroughEachProxyWithinDamperPlus5Seconds() {
    p1 = track(HaproxyPod.proxy("proxy-1", network, HTTP_TEMPLATE));
    p2 = track(HaproxyPod.proxy("proxy-2", network, TCP_TEMPLATE));
    List.of(p1, p2).parallelStream().forEach(HaproxyPod::start);
    // the image's own listener serves whatever the template
    for (HaproxyPod proxy : proxies()) {
      await().atMost(Duration.ofSeconds(30)).until(() -> proxy.get(8404, "/healthz").startsWith("200"));
      assertThat(proxy.get(8404, "/metrics")).startsWith("200").contains("haproxy_frontend_");
    }

    // web-2 reports to its own group as well as to the proxies' (as the original's Kafka pods did);
    // web-3 leaves in the next step
    List<HaproxyPod> three =
        List.of(
            track(HaproxyPod.web("web-1", webImage, network, "web")),
            track(HaproxyPod.web("web-2", webImage, network, "web", "web.default.svc,haproxy.default.svc")),
            track(HaproxyPod.web("web-3", webImage, network, "web")));
    three.parallelStream().forEach(HaproxyPod::start);
    webs.addAll(three);

    awaitServedWithin(three, Duration.ofSeconds(HaproxyPod.DAMPER + 5));
    assertThat(three.get(1).logs()).contains("registered group=default/web pod=web-2");
    // the seed templates ran exactly as written: every downstream pod in each config
    for (HaproxyPod web : three) {
      assertThat(p1.config()).contains(web.ip() + ":80 check on-error mark-down observe layer7 error-limit 1");
      assertThat(p2.config()).contains(web.ip() + ":2181");
    }
  }

  @Test
  @Order(2)
  void aLeavingPodIsOutOfRotationWithinDamperPlus5Seconds() {
    HaproxyPod third = webs.get(2);

    // from the start of docker stop: the pod's agent leaves the group at once, its server keeps
    // answering a few seconds more (HAProxy's grace in the test image) while the proxies drop it
    // docker stop returns once the container has exited, after the server's grace: the proxies
    // are watched while it runs
    ExecutorService stopper = Executors.newSingleThreadExecutor(r -> new Thread(r, "docker-stop-" + third.name));
    Instant stopped = Instant.now();
    Future<?> stopping = stopper.submit(third::stop);
    stopper.shutdown();
    for (HaproxyPod proxy : proxies()) {
      await()
          .atMost(Duration.ofSeconds(HaproxyPod.DAMPER + 5 + 2)) // beyond the bound, to report the measured time
          .pollInterval(Duration.ofMillis(200))
          .until(() -> !proxy.config().contains(third.ip() + ":") && !through(proxy, 6).contains("200 web-3"));
      Duration took = Duration.between(stopped, Instant.now());
      System.out.printf("web-3 out of %s %d ms after docker stop began%n", proxy.name, took.toMillis());
      assertThat(took).as("web-3 out of " + proxy.name).isLessThanOrEqualTo(Duration.ofSeconds(HaproxyPod.DAMPER + 5));
    }
    assertThat(through(p1, 10)).allMatch(b -> b.equals("200 web-1") || b.equals("200 web-2"));
    await().atMost(Duration.ofSeconds(60)).until(stopping::isDone);
    assertThat(stopping).as("docker stop " + third.name).succeedsWithin(Duration.ZERO);
  }

  /** {@code {"hosts": ...}} as the leader sends it. */
  private static String hosts(Map<String, List<String>> hosts) {
    StringBuilder sb = new StringBuilder("{\"hosts\":{");
    hosts.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(
        e -> {
          if (sb.charAt(sb.length() - 1) != '{') {
            sb.append(',');
          }
          sb.append('"').append(e.getKey()).append("\":[");
          sb.append(String.join(",", e.getValue().stream().map(ip -> "\"" + ip + "\"").toList()));
          sb.append(']');
        });
    return sb.append("}}").toString();
  }

  /** Switches proxy-1 to the image's default (slots) template through its Downward API file. */
  private void useDefaultTemplateOnP1() throws Exception {
    if (p1.config().contains("option              idle-close-on-response")) {
      return;
    }
    String at = p1.payload();
    p1.podinfo(Map.of("haproxy.unity3d.com/config", DEFAULT_TEMPLATE));
    // applied: the file written and the reload confirmed (the payload follows the reload)
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
        .until(() -> p1.config().contains("option              idle-close-on-response")
            && !p1.payload().equals(at) && p1.payload().contains("\"status\":\"ok\""));
  }

  @Test
  @Order(3)
  void thirtyReloadsUnderLoadLoseNoRequestAndKeepTheMaster() throws Exception {
    useDefaultTemplateOnP1();
    String w1 = webs.get(0).ip();
    String w2 = webs.get(1).ip();
    // a second app is new servers: each of these is a reload, not a runtime change
    String one = hosts(Map.of("web", List.of(w1)));
    String two = hosts(Map.of("web", List.of(w1), "web2", List.of(w2)));
    HaproxyPod.Proc before = p1.proc();

    String url = "http://" + p1.ip() + ":80/";
    Wrk keepAlive = Wrk.start(url, 8, false);
    Wrk close = Wrk.start(url, 8, true);
    int reconfigurations = 0;
    int maxOld = 0;
    try {
      for (int i = 0; i < 15; i++) {
        for (String input : List.of(two, one)) {
          assertThat(p1.configure(input)).isEqualTo("OK");
          reconfigurations++;
          if (reconfigurations % 5 == 0) { // a sample: each docker exec costs about 0.5 s
            HaproxyPod.Proc now = p1.proc();
            assertThat(now.masterPid()).isEqualTo(before.masterPid());
            maxOld = Math.max(maxOld, now.oldWorkers());
          }
        }
      }
    } finally {
      Wrk.Result k = keepAlive.stop();
      Wrk.Result c = close.stop();
      System.out.printf("%d reloads under load: keep-alive %s, close %s, at most %d old workers%n", reconfigurations, k, c, maxOld);
      assertThat(k.errors()).as("keep-alive errors " + k).isZero();
      assertThat(c.errors()).as("Connection: close errors " + c).isZero();
      assertThat(k.requests()).isGreaterThan(1000);
      assertThat(c.requests()).isGreaterThan(1000);
    }
    HaproxyPod.Proc after = p1.proc();
    assertThat(after.masterPid()).isEqualTo(before.masterPid());
    assertThat(after.reloads() - before.reloads()).isGreaterThanOrEqualTo(30);
    assertThat(after.failed()).isZero();
    // the old workers go once their connections are closed (wrk stopped)
    await().atMost(Duration.ofSeconds(35)).pollInterval(Duration.ofMillis(500)).until(() -> p1.proc().oldWorkers() == 0);
  }

  @Test
  @Order(4)
  void theSameLoadAcrossASupervisorctlRestartShowsErrorsSoTheHarnessSeesLosses() throws Exception {
    String url = "http://" + p1.ip() + ":80/";
    Wrk close = Wrk.start(url, 8, true);
    Wrk.Result r;
    try {
      // one restart is enough to show losses (each waits for the old connections, at most hard-stop-after)
      assertThat(p1.exec("supervisorctl", "restart", "haproxy").getExitCode()).isZero();
      await().atMost(Duration.ofSeconds(20)).until(() -> p1.get(80, "/").startsWith("200"));
    } finally {
      r = close.stop();
    }
    System.out.printf("1 supervisorctl restart under load: %s%n", r);
    assertThat(r.errors()).as("errors across restarts " + r).isPositive();
  }

  @Test
  @Order(5)
  void fortySlotChangesUnderLoadNeedNoReloadAndLoseNoRequest() throws Exception {
    useDefaultTemplateOnP1();
    String w1 = webs.get(0).ip();
    String w2 = webs.get(1).ip();
    List<List<String>> sets = List.of(List.of(w1, w2), List.of(w2), List.of(w1), List.of(w2, w1));
    assertThat(p1.configure(hosts(Map.of("web", sets.get(0))))).isEqualTo("OK");
    await().atMost(Duration.ofSeconds(10)).until(() -> through(p1, 6).containsAll(List.of("200 web-1", "200 web-2")));
    HaproxyPod.Proc before = p1.proc();

    Wrk load = Wrk.start("http://" + p1.ip() + ":80/", 8, false);
    try {
      for (int i = 1; i <= 40; i++) {
        List<String> ips = sets.get(i % sets.size());
        assertThat(p1.configure(hosts(Map.of("web", ips)))).isEqualTo("OK");
        if (i % 4 == 0) { // a sample; the reload count below covers all 40
          assertThat(p1.payload()).containsAnyOf("\"mode\":\"runtime\"", "\"mode\":\"noop\"");
        }
      }
    } finally {
      Wrk.Result r = load.stop();
      System.out.printf("40 slot changes under load: %s%n", r);
      assertThat(r.errors()).as("errors " + r).isZero();
    }
    HaproxyPod.Proc after = p1.proc();
    assertThat(after.reloads()).as("reloads").isEqualTo(before.reloads());
    assertThat(after.masterPid()).isEqualTo(before.masterPid());
  }

  /** Polls proxy-2 until stopped, counting answers that are not a 200 from a web pod. */
  private final class Prober implements AutoCloseable {
    final AtomicInteger ok = new AtomicInteger();
    final List<String> failures = new CopyOnWriteArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> new Thread(r, "it-prober"));
    private final Future<?> loop;

    Prober(HaproxyPod proxy) {
      loop =
          thread.submit(
              () -> {
                while (running.get()) {
                  String r = proxy.get(80, "/");
                  if (r.startsWith("200 web-")) {
                    ok.incrementAndGet();
                  } else {
                    failures.add(r);
                  }
                }
              });
    }

    @Override
    public void close() throws Exception {
      running.set(false);
      loop.get(10, TimeUnit.SECONDS);
      thread.shutdown();
    }
  }

  /**
   * Waits until no configure runs in either proxy and no callback runs on the leader, for longer
   * than the damper: what follows is then caused by the test alone.
   */
  private void settle() {
    await().atMost(Duration.ofSeconds(60)).during(Duration.ofSeconds(HaproxyPod.DAMPER + 1)).pollInterval(Duration.ofMillis(250))
        .until(() -> p1.idle() && p2.idle());
  }

  /** Rewrites proxy-2's template and waits for its configure to report {@code stage}. */
  private void badTemplate(String template, String stage, String... messages) throws Exception {
    settle();
    String config = p2.config();
    HaproxyPod.Proc before = p2.proc();
    String at = p2.payload();
    Map<String, String> annotations = new HashMap<>();
    if (template != null) {
      annotations.put("haproxy.unity3d.com/config", template);
    }
    p2.podinfo(annotations);
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
        .until(() -> !p2.payload().equals(at) && p2.payload().contains("\"stage\":\"" + stage + "\""));
    String payload = p2.payload();
    assertThat(payload).contains("\"status\":\"error\"");
    for (String m : messages) {
      assertThat(payload).contains(m);
    }
    assertThat(p2.config()).as("the file on disk is the last good one").isEqualTo(config);
    HaproxyPod.Proc after = p2.proc();
    assertThat(after.masterPid()).isEqualTo(before.masterPid());
    if (stage.equals("reload")) {
      assertThat(after.failed()).as("failed reloads").isPositive();
    } else {
      assertThat(after.reloads()).as("reloads").isEqualTo(before.reloads());
    }
    assertThat(p2.get(8404, "/healthz")).startsWith("200");
  }

  @Test
  @Order(6)
  void everyBadTemplateIsRefusedWhileTheProxyKeepsServingAndAFixRecovers() throws Exception {
    try (Prober prober = new Prober(p2)) {
      badTemplate("frontend proxy\n  bind *:80\n{% for key in hosts %}\n  server {{ key }}\n", "render",
          "annotation haproxy.unity3d.com/config", "line 3");
      badTemplate(TCP_TEMPLATE.replace(":2181", ":2181 bogus"), "check", "haproxy -c refused", "bogus");
      badTemplate(TCP_TEMPLATE.replace("bind            *:80", "bind            *:80\n  bind 198.51.100.1:81"), "reload",
          "cannot bind socket", "198.51.100.1:81");
      badTemplate(null, "render", "no annotation haproxy.unity3d.com/config");

      // fixing the annotation recovers without a restart (a change that reloads: HAProxy's count of
      // failed reloads resets only at a successful one)
      String at = p2.payload();
      p2.podinfo(Map.of("haproxy.unity3d.com/config", TCP_TEMPLATE.replace("frontend proxy", "# fixed\nfrontend proxy\n  maxconn         2000")));
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
          .until(() -> !p2.payload().equals(at) && p2.payload().contains("\"status\":\"ok\""));
      assertThat(p2.config()).contains("# fixed");
      assertThat(p2.proc().failed()).isZero();
      prober.close();
      System.out.printf("proxy-2 through 4 bad templates and a fix: %d answers, failures %s%n", prober.ok.get(), prober.failures);
      assertThat(prober.failures).isEmpty();
      assertThat(prober.ok.get()).isPositive();
    }
  }

  /**
   * etcd stopped for 3 × TTL under load through both proxies, then started again: it keeps its
   * leases across a restart, so nothing changes at all — no reload, no configuration change, no
   * failed request.
   */
  @Test
  @Order(7)
  void etcdStoppedForThreeTtlsUnderLoadChangesNothing() throws Exception {
    String id = etcd.getContainerId();
    underLoadThroughAnOutage("etcd stopped", true,
        () -> DockerNetworks.docker().stopContainerCmd(id).withTimeout(10).exec(),
        () -> DockerNetworks.docker().startContainerCmd(id).exec());
  }

  /**
   * etcd replaced by an empty one at the same address, as a Service's address stays when its pod
   * is replaced: every pod registers again, the proxies keep their masters and serve every request
   * meanwhile, and they converge on the configuration they had.
   */
  @Test
  @Order(8)
  @SuppressWarnings("resource")
  void etcdWipedUnderLoadThePodsRegisterAgainAndTheProxiesConvergeWithoutLosingARequest() throws Exception {
    String address = DockerNetworks.ip(etcd.getContainerId(), network);
    underLoadThroughAnOutage("etcd wiped", false,
        () -> DockerNetworks.docker().removeContainerCmd(etcd.getContainerId()).withForce(true).exec(),
        () -> {
          GenericContainer<?> empty = LocalImages.etcd(network);
          etcds.add(empty);
          empty.start();
          DockerNetworks.cut(empty.getContainerId(), network);
          DockerNetworks.connect(empty.getContainerId(), network, address, List.of("etcd"));
          etcd = empty;
        });
  }

  /**
   * Under keep-alive load through both proxies: {@code fault}, 3 × TTL, {@code heal}; then every
   * pod ready again and the group settled. No request fails, no master changes, no reload fails,
   * and each proxy ends with the configuration it had; with {@code untouched}, no reload at all
   * and the configurations never differ from the start, through the outage and TTL + damper + 5 s
   * after it.
   */
  private void underLoadThroughAnOutage(String what, boolean untouched, Runnable fault, Runnable heal) throws Exception {
    settle();
    Map<HaproxyPod, HaproxyPod.Proc> before = new LinkedHashMap<>();
    Map<HaproxyPod, String> configs = new LinkedHashMap<>();
    for (HaproxyPod proxy : proxies()) {
      before.put(proxy, proxy.proc());
      configs.put(proxy, proxy.config());
    }
    List<HaproxyPod> live = List.of(p1, p2, webs.get(0), webs.get(1)); // web-3 left in step 2
    Duration outage = Duration.ofSeconds(3L * HaproxyPod.TTL);
    Wrk l1 = Wrk.start("http://" + p1.ip() + ":80/", 4, false);
    Wrk l2 = Wrk.start("http://" + p2.ip() + ":80/", 4, false);
    try {
      fault.run();
      long t0 = System.nanoTime();
      await().during(outage).atMost(outage.plusSeconds(15)).pollInterval(Duration.ofSeconds(1))
          .until(() -> !untouched || proxies().stream().allMatch(p -> p.config().equals(configs.get(p))));
      heal.run();
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
          .until(() -> live.stream().allMatch(p -> p.get(8001, "/readyz").startsWith("200")));
      System.out.printf("%s: every pod ready again %d ms after the fault%n", what, (System.nanoTime() - t0) / 1_000_000);
      settle();
      Duration after = Duration.ofSeconds(HaproxyPod.TTL + HaproxyPod.DAMPER + 5);
      await().during(untouched ? after : Duration.ZERO).atMost(after.plusSeconds(30)).pollInterval(Duration.ofSeconds(1))
          .until(() -> proxies().stream().allMatch(p -> p.config().equals(configs.get(p))));
    } finally {
      Wrk.Result r1 = l1.stop();
      Wrk.Result r2 = l2.stop();
      System.out.printf("%s under load: proxy-1 %s, proxy-2 %s%n", what, r1, r2);
      assertThat(r1.errors()).as("proxy-1 errors " + r1).isZero();
      assertThat(r2.errors()).as("proxy-2 errors " + r2).isZero();
      assertThat(r1.requests()).isPositive();
      assertThat(r2.requests()).isPositive();
    }
    for (HaproxyPod proxy : proxies()) {
      HaproxyPod.Proc now = proxy.proc();
      System.out.printf("%s: %s reloads %d -> %d%n", what, proxy.name, before.get(proxy).reloads(), now.reloads());
      assertThat(now.masterPid()).as(proxy.name + " master").isEqualTo(before.get(proxy).masterPid());
      assertThat(now.failed()).as(proxy.name + " failed reloads").isZero();
      if (untouched) {
        assertThat(now.reloads()).as(proxy.name + " reloads").isEqualTo(before.get(proxy).reloads());
      }
    }
    assertThat(through(p1, 10)).contains("200 web-1", "200 web-2").allMatch(b -> b.equals("200 web-1") || b.equals("200 web-2"));
    assertThat(through(p2, 10)).contains("200 web-1", "200 web-2").allMatch(b -> b.equals("200 web-1") || b.equals("200 web-2"));
  }
}
