package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nats.client.Connection;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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
 * Faults under a running NATS ensemble of three kontrol/nats pods (TTL 5 s, FOVER 5 s, damper
 * 2 s) with real clients on every broker, in order, on the same containers: etcd stopped for 3 ×
 * TTL, etcd cut off from the pods for 3 × TTL (every record and leadership expires), the leader
 * pod's network cut and healed, and etcd wiped. Through the two etcd outages no service sees any
 * change: rendered files byte-identical, broker PIDs and {@code config_load_time} unchanged, no
 * client disconnected.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class NatsFaultsIT {
  private static final Duration OUTAGE = Duration.ofSeconds(3L * NatsPod.TTL);

  private Network network;
  /** A second network, for the clients that stay with the partitioned pod. */
  private Network side;
  private GenericContainer<?> etcd;
  private String etcdIp;
  private final List<NatsPod> pods = new ArrayList<>();
  private final List<GenericContainer<?>> etcds = new ArrayList<>();
  private final NatsClients clients = new NatsClients("faults");

  @BeforeAll
  void startEnsemble() throws Exception {
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    network = DockerNetworks.withOwnSubnet();
    side = DockerNetworks.withOwnSubnet();
    startEtcd();
    for (int i = 1; i <= 3; i++) {
      pods.add(new NatsPod("nats-" + i, network));
    }
    pods.parallelStream().forEach(NatsPod::start);
    awaitMesh(pods, Duration.ofSeconds(60));
    awaitSettled(pods, Duration.ofSeconds(30));
    for (NatsPod pod : pods) {
      clients.connect(pod);
    }
    clients.assertDelivery(pods.get(0), pods.get(2));
  }

  @SuppressWarnings("resource")
  private void startEtcd() {
    etcd = LocalImages.etcd(network);
    etcds.add(etcd);
    etcd.start();
    etcdIp = DockerNetworks.ip(etcd.getContainerId(), network);
  }

  @AfterAll
  void stopAll() {
    clients.close();
    Path logs = Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs"), "faults");
    for (NatsPod pod : pods) {
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
    if (side != null) {
      side.close();
    }
    if (network != null) {
      network.close();
    }
  }

  /** A partition a step made and had not healed when it failed: healed before the next step. */
  private Runnable unhealed;

  /** After every step: no client of a broker saw a disconnect. */
  @AfterEach
  void clientsNeverDisconnected() {
    if (unhealed != null) {
      unhealed.run();
      unhealed = null;
    }
    assertThat(clients.disconnects()).allSatisfy((pod, n) -> assertThat(n).as("disconnects seen by the client of " + pod).isZero());
  }

  @Test
  @Order(1)
  void etcdStoppedForThreeTtlsChangesNothing() throws Exception {
    String id = etcd.getContainerId();
    outageChangesNothing("etcd stopped",
        () -> DockerNetworks.docker().stopContainerCmd(id).withTimeout(10).exec(),
        () -> {
          DockerNetworks.docker().startContainerCmd(id).exec();
          etcdIp = DockerNetworks.ip(id, network);
        });
    clients.assertDelivery(pods.get(1), pods.get(0));
  }

  /** etcd runs on while cut off: every registration and election lease expires there. */
  @Test
  @Order(2)
  void etcdCutOffLongerThanTheTtlComesBackWithoutAFlap() throws Exception {
    String id = etcd.getContainerId();
    outageChangesNothing("etcd cut off",
        () -> DockerNetworks.cut(id, network),
        () -> DockerNetworks.connect(id, network, etcdIp, List.of("etcd")));
    clients.assertDelivery(pods.get(2), pods.get(1));
  }

  /**
   * etcd away for 3 × TTL, then back: through the outage, and for TTL + damper + 5 s once every
   * pod is ready again (the group had every chance to act), no service changes.
   */
  private void outageChangesNothing(String what, Runnable fault, Runnable heal) throws Exception {
    Map<String, String> before = services();
    fault.run();
    long t0 = System.nanoTime();
    holdFor(OUTAGE, before);
    heal.run();
    System.out.printf("%s for %d ms%n", what, (System.nanoTime() - t0) / 1_000_000);
    awaitReady(Duration.ofSeconds(45));
    awaitSettled(pods, Duration.ofSeconds(30));
    holdFor(Duration.ofSeconds(NatsPod.TTL + NatsPod.DAMPER + 5), before);
  }

  @Test
  @Order(3)
  void theLeaderPodCutOffIsReplacedKeepsServingItsClientsAndRejoinsWithItsSeq() throws Exception {
    NatsPod leader = await().atMost(Duration.ofSeconds(30))
        .until(() -> pods.stream().filter(NatsPod::isLeader).findFirst().orElse(null), p -> p != null);
    List<NatsPod> others = pods.stream().filter(p -> p != leader).toList();
    long seq = leader.seq();
    String leaderIp = leader.ip();
    // its clients are on its side of the cut: a second interface, on a network of their own
    clients.drop(leader);
    leader.reachVia(DockerNetworks.connect(leader.containerId(), side));
    clients.connect(leader);
    int logLines = leader.logs().split("\n").length;

    DockerNetworks.cut(leader.containerId(), network);
    unhealed = () -> DockerNetworks.connect(leader.containerId(), network, leaderIp, List.of());
    long t0 = System.nanoTime();
    NatsPod successor = await().atMost(Duration.ofSeconds(NatsPod.FOVER + NatsPod.DAMPER + 5))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> others.stream().filter(NatsPod::isLeader).findFirst().orElse(null), p -> p != null);
    long tookLeader = (System.nanoTime() - t0) / 1_000_000;
    // the others' configurations drop the cut-off broker once its record expired (their routes to
    // it close only when nats-server's pings time out: a cut network sends no reset)
    String route = leaderIp + ":4244";
    await().atMost(Duration.ofSeconds(NatsPod.TTL + NatsPod.DAMPER + 10).minusNanos(System.nanoTime() - t0))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> others.stream().noneMatch(p -> p.brokerConfig().contains(route)));
    System.out.printf("leader cut off: %s leads after %d ms, the others' configurations drop it after %d ms%n",
        successor.name, tookLeader, (System.nanoTime() - t0) / 1_000_000);
    clients.assertDelivery(others.get(0), others.get(1));
    // the cut-off broker still serves its own clients
    clients.assertDelivery(leader, leader);
    assertThat(clients.get(leader).getStatus()).isEqualTo(Connection.Status.CONNECTED);
    // it stopped acting: deposed by its lease, and no callback of its own since
    List<String> since = List.of(leader.logs().split("\n")).subList(logLines, leader.logs().split("\n").length);
    int deposed = indexOf(since, "deposed group=");
    assertThat(deposed).as("the cut-off leader was deposed:\n" + String.join("\n", since)).isNotNegative();
    assertThat(since.subList(deposed, since.size())).noneMatch(l -> l.contains("callback started"));

    Map<NatsPod, Integer> reloads = new LinkedHashMap<>();
    for (NatsPod p : pods) {
      reloads.put(p, count(p.logs(), "nats-server reloaded"));
    }
    unhealed.run();
    unhealed = null;
    long healed = System.nanoTime();
    awaitMesh(pods, Duration.ofSeconds(NatsPod.TTL + NatsPod.DAMPER + 20));
    awaitSettled(pods, Duration.ofSeconds(30));
    System.out.printf("partition healed: meshed again after %d ms%n", (System.nanoTime() - healed) / 1_000_000);
    assertThat(leader.seq()).as("rejoined with its old seq").isEqualTo(seq);
    assertThat(others.stream().filter(NatsPod::isLeader)).hasSize(1);
    assertThat(leader.isLeader()).isFalse();
    // at most one configuration change per broker for the heal
    await().during(Duration.ofSeconds(NatsPod.DAMPER + 3)).atMost(Duration.ofSeconds(NatsPod.DAMPER + 10))
        .until(() -> NatsPod.meshed(pods));
    for (NatsPod p : pods) {
      assertThat(count(p.logs(), "nats-server reloaded") - reloads.get(p)).as(p.name + " reloads for the heal").isLessThanOrEqualTo(1);
    }
    clients.assertDelivery(leader, others.get(0));
  }

  @Test
  @Order(4)
  void etcdWipedThePodsRegisterAgainAndTheEnsembleStaysMeshed() throws Exception {
    String address = etcdIp;
    DockerNetworks.docker().removeContainerCmd(etcd.getContainerId()).withForce(true).exec();
    long t0 = System.nanoTime();
    startEtcd();
    // at the address the old one had, as a Service's address stays when its pod is replaced
    DockerNetworks.cut(etcd.getContainerId(), network);
    DockerNetworks.connect(etcd.getContainerId(), network, address, List.of("etcd"));
    etcdIp = address;
    System.out.printf("etcd replaced by an empty one in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    awaitReady(Duration.ofSeconds(60));
    awaitSettled(pods, Duration.ofSeconds(45));
    awaitMesh(pods, Duration.ofSeconds(20));
    System.out.printf("etcd wiped: settled again after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    assertThat(pods.stream().map(NatsPod::seq).collect(Collectors.toSet())).as("one seq per pod").hasSize(3).doesNotContain(-1L);
    assertThat(pods.stream().filter(NatsPod::isLeader)).hasSize(1);
    clients.assertDelivery(pods.get(0), pods.get(1));
  }

  /** What a service shows of its configuration: rendered file, broker PID, config_load_time. */
  private Map<String, String> services() throws Exception {
    Map<String, String> out = new LinkedHashMap<>();
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    for (NatsPod p : pods) {
      out.put(p.name + " nats.conf", HexFormat.of().formatHex(sha.digest(p.brokerConfig().getBytes(StandardCharsets.UTF_8))));
      out.put(p.name + " pid", p.brokerPid());
      out.put(p.name + " config_load_time", p.configLoadTime());
    }
    return out;
  }

  /** For {@code d}, the services stay exactly as {@code before}, and every client connected. */
  private void holdFor(Duration d, Map<String, String> before) throws Exception {
    await().during(d).atMost(d.plusSeconds(15)).pollInterval(Duration.ofSeconds(1))
        .until(() -> services().equals(before) && clients.all().stream().allMatch(c -> c.getStatus() == Connection.Status.CONNECTED));
    assertThat(services()).isEqualTo(before);
  }

  private void awaitReady(Duration within) {
    await().atMost(within).pollInterval(Duration.ofMillis(500)).until(() -> pods.stream().allMatch(p -> p.readyz() == 200));
  }

  private static void awaitMesh(List<NatsPod> live, Duration within) {
    await().atMost(within).pollInterval(Duration.ofMillis(250)).untilAsserted(() -> {
      for (NatsPod pod : live) {
        assertThat(pod.routes()).as(pod.name + " routes").isEqualTo(pod.others(live));
      }
    });
  }

  /** The leader's last callback succeeded for exactly {@code live}: its state lists them. */
  private static void awaitSettled(List<NatsPod> live, Duration within) {
    String peers = live.stream().map(p -> "\"" + p.ip() + "\"").sorted().collect(Collectors.joining(",", "\"peers\":[", "]"));
    await().atMost(within).pollInterval(Duration.ofMillis(500))
        .until(() -> live.stream().map(p -> p.status().replaceAll("\\s", "")).anyMatch(s -> s.contains("\"leader\":true") && s.contains(peers)));
  }

  private static int indexOf(List<String> lines, String needle) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(needle)) {
        return i;
      }
    }
    return -1;
  }

  private static int count(String text, String needle) {
    int n = 0;
    for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }
}
