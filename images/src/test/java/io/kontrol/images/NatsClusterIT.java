package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener.Events;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.Subscription;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
  private final Map<NatsPod, Connection> clients = new LinkedHashMap<>();
  private final Map<String, AtomicInteger> disconnects = new ConcurrentHashMap<>();
  private int next = 1;

  @BeforeAll
  @SuppressWarnings("resource")
  void startEtcd() {
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    network = Network.newNetwork();
    etcd = LocalImages.etcd(network);
    etcd.start();
  }

  @AfterAll
  void stopAll() {
    clients.values().forEach(NatsClusterIT::closeQuietly);
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
    assertThat(disconnects).allSatisfy((pod, n) -> assertThat(n.get()).as("disconnects seen by the client of " + pod).isZero());
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

  private void connectClient(NatsPod pod) throws Exception {
    AtomicInteger count = disconnects.computeIfAbsent(pod.name, k -> new AtomicInteger());
    Options options =
        new Options.Builder()
            .server(pod.clientUrl())
            .connectionName("it-" + pod.name)
            // only the broker we connect to: a reconnect elsewhere would hide a disconnect
            .ignoreDiscoveredServers()
            .maxReconnects(-1)
            .connectionListener(
                (conn, event) -> {
                  if (event == Events.DISCONNECTED) {
                    count.incrementAndGet();
                  }
                })
            .build();
    clients.put(pod, Nats.connect(options));
  }

  /** A message published on one broker reaches a subscriber on another, through the routes. */
  private void assertDelivery(NatsPod from, NatsPod to) throws Exception {
    String subject = "it." + from.name + "." + to.name + "." + System.nanoTime();
    Subscription sub = clients.get(to).subscribe(subject);
    clients.get(to).flush(Duration.ofSeconds(5));
    // interest crosses the route asynchronously: publish until one arrives
    Message[] got = new Message[1];
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              clients.get(from).publish(subject, ("hello from " + from.name).getBytes(StandardCharsets.UTF_8));
              clients.get(from).flush(Duration.ofSeconds(2));
              got[0] = sub.nextMessage(Duration.ofMillis(300));
              return got[0] != null;
            });
    assertThat(new String(got[0].getData(), StandardCharsets.UTF_8)).isEqualTo("hello from " + from.name);
    sub.unsubscribe();
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
      connectClient(pod);
    }
    assertDelivery(three.get(2), three.get(0));
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
    connectClient(fourth);
    assertDelivery(fourth, live.get(0));
  }

  @Test
  @Order(3)
  void aStoppedPodIsDroppedWithinTheDamperPlus5Seconds() {
    NatsPod stopped = live.get(live.size() - 1);
    closeQuietly(clients.remove(stopped));
    disconnects.remove(stopped.name);

    stopped.stop();
    live.remove(stopped);
    long t0 = System.nanoTime();

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
    closeQuietly(clients.remove(leader));
    disconnects.remove(leader.name);

    leader.kill();
    live.remove(leader);
    NatsPod newcomer = newPod().start();
    live.add(newcomer);

    Duration bound = Duration.ofSeconds(NatsPod.TTL + NatsPod.FOVER + NatsPod.DAMPER + 30);
    awaitMesh(bound);
    awaitConfigs(Duration.ofSeconds(15));
    assertThat(live.stream().filter(NatsPod::isLeader).map(p -> p.name)).hasSize(1).doesNotContain(leader.name);
    connectClient(newcomer);
    assertDelivery(newcomer, live.get(0));
  }

  @Test
  @Order(6)
  void aBrokenTemplateKeepsTheRunningConfigAndIsReportedByThePod() throws Exception {
    NatsPod broken = live.get(0);
    String before = broken.brokerConfig();
    broken.annotate("{\"nats.unity3d.com/config\": \"listen: 0.0.0.0:4242\\n{% for p in peers %}\\nroute {{ p }}\\n\"}");

    // the next change makes the leader configure every broker
    NatsPod joiner = newPod().start();
    live.add(joiner);

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
    assertDelivery(live.get(1), broken);
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

  private static void closeQuietly(Connection connection) {
    if (connection == null) {
      return;
    }
    try {
      connection.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
