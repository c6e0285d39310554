package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nats.client.Connection;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;

/**
 * A NATS ensemble of kontrol/nats pods on a Docker network, with an etcd built from the base
 * image: it forms, grows, heals and survives a bad template by itself, while real clients stay
 * connected. The steps build on each other, in order.
 */
@Timeout(value = 12, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class NatsClusterIT {

  private Network network;
  private GenericContainer<?> etcd;
  /** Every pod started, for logs and clean-up. */
  private final List<NatsPod> started = new ArrayList<>();
  /** The pods that should be running now. */
  private final List<NatsPod> live = new CopyOnWriteArrayList<>();
  /** A real client on each surviving broker; every disconnect is counted. */
  private final NatsClients clients = new NatsClients("it");
  private int next = 1;
  /** The pod that joined while a broker's template was broken (step 6). */
  private NatsPod joiner;

  @BeforeAll
  @SuppressWarnings("resource")
  void startEtcd() {
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    network = Network.newNetwork();
    // the test reads the group's records through etcd's JSON gateway
    etcd = LocalImages.etcd(network).withExposedPorts(2379);
    etcd.start();
  }

  @AfterAll
  void stopAll() {
    clients.close();
    Path logs = Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs"));
    for (NatsPod pod : started) {
      pod.saveLogs(logs);
      pod.close();
    }
    if (etcd != null) {
      etcd.stop();
    }
    if (network != null) {
      network.close();
    }
  }

  /** After every step: no client of a broker that is still up saw a disconnect. */
  @AfterEach
  void clientsNeverDisconnected() {
    assertThat(clients.disconnects()).allSatisfy((pod, n) -> assertThat(n).as("disconnects seen by the client of " + pod).isZero());
  }

  private NatsPod newPod() {
    NatsPod pod = new NatsPod("nats-" + next++, network);
    started.add(pod);
    return pod;
  }

  /** Every live broker routes to every other live broker, and its config lists exactly them. */
  private void awaitMesh(Duration within) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              for (NatsPod pod : live) {
                assertThat(pod.routes()).as(pod.name + " routes").isEqualTo(pod.others(live));
              }
            });
  }

  /** Every live broker's rendered config routes to exactly the other live brokers. */
  private void awaitConfigs(Duration within) {
    // by IP: Docker hands a gone pod's address to a newer one
    Set<String> everIp = started.stream().map(NatsPod::ip).filter(ip -> ip != null).collect(Collectors.toSet());
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () -> {
              for (NatsPod pod : live) {
                String config = pod.brokerConfig();
                Set<String> others = pod.others(live);
                for (String ip : everIp) {
                  assertThat(config.contains("nats-route://" + ip + ":4244"))
                      .as(pod.name + " config routes to " + ip)
                      .isEqualTo(others.contains(ip));
                }
              }
            });
  }

  /**
   * The leader's callback has finished for the live pods: its state lists exactly them. A pod
   * killed before that would leave the leader waiting on its answer until the callback's timeout.
   */
  private void awaitSettled(Duration within) {
    String peers =
        live.stream().map(p -> "\"" + p.ip() + "\"").sorted().collect(Collectors.joining(",", "\"peers\":[", "]"));
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> live.stream().map(p -> p.status().replaceAll("\\s", "")).anyMatch(s -> s.contains("\"leader\":true") && s.contains(peers)));
  }

  /** The ids of the pods registered in the group now, read from etcd (its v3 JSON gateway). */
  private Set<String> registered() throws Exception {
    String prefix = "/kontrol/default/nats/pods/";
    Base64.Encoder b64 = Base64.getEncoder();
    String end = prefix.substring(0, prefix.length() - 1) + (char) (prefix.charAt(prefix.length() - 1) + 1);
    String body = "{\"key\":\"" + b64.encodeToString(prefix.getBytes(StandardCharsets.UTF_8)) + "\",\"range_end\":\""
        + b64.encodeToString(end.getBytes(StandardCharsets.UTF_8)) + "\",\"keys_only\":true}";
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://" + etcd.getHost() + ":" + etcd.getMappedPort(2379) + "/v3/kv/range"))
            .timeout(Duration.ofSeconds(5)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    Set<String> ids = new TreeSet<>();
    Matcher m = Pattern.compile("\"key\":\"([^\"]+)\"").matcher(r.body());
    while (m.find()) {
      ids.add(new String(Base64.getDecoder().decode(m.group(1)), StandardCharsets.UTF_8).substring(prefix.length()));
    }
    return ids;
  }

  @Test
  @Order(1)
  void threePodsMeshWithin30SecondsAndCarryMessages() throws Exception {
    List<NatsPod> three = List.of(newPod(), newPod(), newPod());
    long t0 = System.nanoTime();
    three.parallelStream().forEach(NatsPod::start);
    live.addAll(three);

    awaitMesh(Duration.ofSeconds(30).minusNanos(System.nanoTime() - t0));
    System.out.printf("3 pods meshed %d ms after docker run%n", (System.nanoTime() - t0) / 1_000_000);
    awaitConfigs(Duration.ofSeconds(10));

    for (NatsPod pod : three) {
      // boot prepared the pod and exited: no JVM stays resident as PID 1
      assertThat(pod.pid1()).as(pod.name + " PID 1").contains("supervisord -n -c").doesNotContain("java");
      clients.connect(pod);
    }
    clients.assertDelivery(three.get(2), three.get(0));
  }

  @Test
  @Order(2)
  void aFourthPodJoinsAndEveryBrokerRoutesToIt() throws Exception {
    NatsPod fourth = newPod();
    long t0 = System.nanoTime();
    fourth.start();
    live.add(fourth);

    awaitMesh(Duration.ofSeconds(60));
    System.out.printf("4th pod routed by all %d ms after docker run%n", (System.nanoTime() - t0) / 1_000_000);
    awaitConfigs(Duration.ofSeconds(10));
    clients.connect(fourth);
    clients.assertDelivery(fourth, live.get(0));
  }

  @Test
  @Order(3)
  void aStoppedPodIsDroppedWithinTheDamperPlus5Seconds() throws Exception {
    NatsPod stopped = live.get(live.size() - 1);
    clients.drop(stopped);
    assertThat(registered()).contains(stopped.name);

    stopped.stop();
    live.remove(stopped);
    long t0 = System.nanoTime();
    // SIGTERM to supervisord (PID 1): the agent revoked its lease before the container exited
    assertThat(registered()).as("records right after docker stop returned").doesNotContain(stopped.name);
    assertThat(stopped.exitCode()).as("the container's exit code").isZero();

    Duration bound = Duration.ofSeconds(NatsPod.DAMPER + 5);
    awaitMesh(bound);
    awaitConfigs(bound.minusNanos(System.nanoTime() - t0));
    System.out.printf("stopped pod dropped from every config %d ms after docker stop returned%n", (System.nanoTime() - t0) / 1_000_000);
  }

  @Test
  @Order(4)
  void aKilledPodIsDroppedWithinTtlPlusDamperPlus5Seconds() throws Exception {
    NatsPod doomed = newPod().start();
    live.add(doomed);
    awaitMesh(Duration.ofSeconds(60));
    awaitConfigs(Duration.ofSeconds(10));
    awaitSettled(Duration.ofSeconds(30));

    doomed.kill();
    live.remove(doomed);
    long t0 = System.nanoTime();

    Duration bound = Duration.ofSeconds(NatsPod.TTL + NatsPod.DAMPER + 5);
    awaitMesh(bound);
    awaitConfigs(bound.minusNanos(System.nanoTime() - t0));
    System.out.printf("killed pod dropped from every config %d ms after docker kill%n", (System.nanoTime() - t0) / 1_000_000);
  }

  @Test
  @Order(5)
  void whenTheLeaderIsKilledAnotherLeadsAndTheNextChangeIsApplied() throws Exception {
    awaitSettled(Duration.ofSeconds(30));
    NatsPod leader =
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> live.stream().filter(NatsPod::isLeader).findFirst().orElse(null), p -> p != null);
    clients.drop(leader);

    leader.kill();
    live.remove(leader);
    NatsPod newcomer = newPod().start();
    live.add(newcomer);

    Duration bound = Duration.ofSeconds(NatsPod.TTL + NatsPod.FOVER + NatsPod.DAMPER + 30);
    awaitMesh(bound);
    awaitConfigs(Duration.ofSeconds(15));
    assertThat(live.stream().filter(NatsPod::isLeader).map(p -> p.name)).hasSize(1).doesNotContain(leader.name);
    clients.connect(newcomer);
    clients.assertDelivery(newcomer, live.get(0));
  }

  @Test
  @Order(6)
  void aBrokenTemplateKeepsTheRunningConfigAndIsReportedByThePod() throws Exception {
    NatsPod broken = live.get(0);
    String before = broken.brokerConfig();
    broken.podinfo(Map.of("nats.unity3d.com/config", "listen: 0.0.0.0:4242\n{% for p in peers %}\nroute {{ p }}\n"));

    // no group change: the agent re-runs configure with the last input at once
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(broken.status()).contains("config_error").contains("Missing end tag"));
    assertThat(broken.brokerConfig()).isEqualTo(before);

    // the next change makes the leader configure every broker
    NatsPod joiner = newPod().start();
    live.add(joiner);
    this.joiner = joiner;

    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(broken.logs()).contains("line 2").contains("NOT changed");
              assertThat(broken.status()).contains("config_error").contains("Missing end tag");
            });
    // the others took the new pod; the broken one kept its file and its broker
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              for (NatsPod pod : live) {
                if (pod != broken && pod != joiner) {
                  assertThat(pod.brokerConfig()).contains("nats-route://" + joiner.ip() + ":4244");
                }
              }
            });
    assertThat(broken.brokerConfig()).isEqualTo(before);
    assertThat(clients.get(broken).getStatus()).isEqualTo(Connection.Status.CONNECTED);
    clients.assertDelivery(live.get(1), broken);
  }

  @Test
  @Order(7)
  void thePodsAgentAndAutomatonRunWithExactlyTheFlagsOfTheDistLaunchers() throws Exception {
    NatsPod pod = live.get(live.size() - 1);
    Launchers dist = Launchers.fromDist();
    assertThat(pod.commandLine("kontrol.jar run")).as("the agent in the pod")
        .isEqualTo(dist.commandLine("kontrol", "/opt/java/bin/java", "run"));
    assertThat(pod.commandLine("automaton.jar /home/kontrol/nats/lifecycle.yml")).as("the automaton in the pod")
        .isEqualTo(dist.commandLine("automaton", "/opt/java/bin/java",
            "/home/kontrol/nats/lifecycle.yml", "--socket", "/tmp/sock", "--log", "-"));
    // the flags that drifted before: the automaton's process launch and heap, the agent's allocator
    assertThat(pod.commandLine("automaton.jar /home/kontrol/nats/lifecycle.yml"))
        .contains("-Djdk.lang.Process.launchMechanism=VFORK", "-Xmx64m", "-XX:SharedArchiveFile=/opt/kontrol/lib/automaton.jsa");
    assertThat(pod.commandLine("kontrol.jar run"))
        .contains("-Dio.netty.allocator.type=unpooled", "-XX:MaxDirectMemorySize=32m", "-XX:SharedArchiveFile=/opt/kontrol/lib/kontrol.jsa");
  }

  @Test
  @Order(8)
  void aFixedTemplateIsRenderedAndReloadedWithNoGroupChange() throws Exception {
    NatsPod broken = live.get(0);
    String template = Files.readString(Path.of("nats", "nats.conf.j2"));
    int pods = started.size();

    // a malformed Downward API file: one log line with file and line, nothing changes
    broken.podinfoText("nats.unity3d.com/config=\"unterminated");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> broken.logs().contains("/etc/podinfo/annotations line 1: the value of nats.unity3d.com/config must be"));
    assertThat(broken.exec("cat", "/data/annotations.json").getStdout()).as("the last good annotations stay").contains("{% for p in peers %}");

    long t0 = System.nanoTime();
    broken.podinfo(Map.of("nats.unity3d.com/config", "# fixed by a live annotation\n" + template));
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              String config = broken.brokerConfig();
              assertThat(config).contains("# fixed by a live annotation");
              // rendered with the last input the leader sent: it already named the joiner
              assertThat(config).contains("nats-route://" + joiner.ip() + ":4244");
              assertThat(broken.status()).doesNotContain("config_error");
            });
    System.out.printf("fixed template applied %d ms after the Downward API file changed%n", (System.nanoTime() - t0) / 1_000_000);
    assertThat(broken.logs()).contains("configure re-run with the last input").contains("nats-server reloaded");
    assertThat(started).as("no pod started or stopped").hasSize(pods);
    awaitMesh(Duration.ofSeconds(30));
    assertThat(clients.get(broken).getStatus()).isEqualTo(Connection.Status.CONNECTED);
    clients.assertDelivery(live.get(1), broken);
  }

  @Test
  @Order(9)
  void aKilledProgramIsRestartedBySupervisordAndTheBrokerKeepsServing() throws Exception {
    NatsPod pod = live.get(1);
    long before = pod.programPid("automaton");
    assertThat(before).isPositive();
    assertThat(pod.exec("kill", "-KILL", String.valueOf(before)).getExitCode()).isZero();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> {
          long now = pod.programPid("automaton");
          assertThat(now).isPositive().isNotEqualTo(before);
          assertThat(pod.exec("supervisorctl", "status", "automaton").getStdout()).contains("RUNNING");
        });
    assertThat(pod.pid1()).contains("supervisord");
    clients.assertDelivery(live.get(0), pod);
  }
}
