package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.nats.client.Connection;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.Subscription;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * The group configuration on the project's images: three kontrol/nats pods with the NATS request
 * API on and a peer token, an etcd, and a fourth nats-server outside the group (the "hub", a
 * leafnode hub as in the seed). An operator changes the cluster's name, routes and leafnode
 * remotes through {@code _SAT.nats.config.put} and through {@code kontrol config put}; every
 * broker runs the change within 2 s of the reply, while real clients stay connected. The steps
 * build on each other, in order.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class NatsConfigIT {

  private static final String TOKEN = "it-config-token";
  /** The bound: from the reply (or the command's exit) to every broker running the change. */
  private static final Duration APPLIED = Duration.ofSeconds(2);
  private static final Pattern REVISION = Pattern.compile("\"revision\":(\\d+)");
  private static final Pattern URLS = Pattern.compile("\"urls\"\\s*:\\s*\\[([^\\]]*)\\]");
  private static final Pattern LEAFNODES = Pattern.compile("\"leafnodes\"\\s*:\\s*(\\d+)");

  private Network network;
  private GenericContainer<?> etcd;
  private GenericContainer<?> hub;
  private final List<NatsPod> started = new ArrayList<>();
  private final List<NatsPod> live = new CopyOnWriteArrayList<>();
  /** A real client on each live broker; every disconnect is counted. */
  private final NatsClients clients = new NatsClients("cfg");
  /** The revision the last accepted change was stored at. */
  private long revision;

  @BeforeAll
  @SuppressWarnings("resource")
  void startGroup() throws Exception {
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    network = Network.newNetwork();
    etcd = LocalImages.etcd(network);
    etcd.start();
    // a plain nats-server from the same image, not in the group: no agent, a leafnode listener
    hub =
        new GenericContainer<>(LocalImages.NATS)
            .withNetwork(network)
            .withNetworkAliases("hub")
            .withCreateContainerCmdModifier(cmd -> cmd.withName("kontrol-it-hub-" + System.nanoTime()).withEntrypoint("sh"))
            .withCommand("-c", "printf 'listen: 0.0.0.0:4222\\nhttp: 0.0.0.0:8222\\nleafnodes { listen: 0.0.0.0:7422 }\\n'"
                + " > /tmp/hub.conf && exec nats-server -c /tmp/hub.conf")
            .withExposedPorts(4222, 8222)
            .waitingFor(Wait.forListeningPorts(4222, 8222).withStartupTimeout(Duration.ofSeconds(60)));
    hub.start();

    for (int i = 1; i <= 3; i++) {
      NatsPod pod =
          new NatsPod("nats-" + i, network)
              .env("KONTROL_ANNOTATIONS", "{\"nats.unity3d.com/config-api\":\"true\"}")
              .env("KONTROL_TOKEN", TOKEN);
      started.add(pod);
    }
    started.parallelStream().forEach(NatsPod::start);
    live.addAll(started);
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).until(() -> NatsPod.meshed(live));
    // the leader's callback for the three has finished: the first change does not queue behind it
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> NatsPod.settled(live));
    for (NatsPod pod : live) {
      clients.connect(pod);
      assertThat(pod.clusterName()).as(pod.name + " cluster name before any configuration").isEqualTo("nats");
    }
    // the API is served once the leader's client reached its broker
    await().atMost(Duration.ofSeconds(30)).until(() -> request(live.get(0), "_SAT.nats.config.get", "", TOKEN) != null);
  }

  @AfterAll
  void stopAll() {
    clients.close();
    Path logs = Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs"));
    for (NatsPod pod : started) {
      pod.saveLogs(logs.resolve("config"));
      try {
        java.nio.file.Files.writeString(logs.resolve("config").resolve(pod.name + "-nats-server.log"),
            pod.exec("cat", "/data/nats/nats-server.log").getStdout());
      } catch (java.io.IOException | RuntimeException e) {
        // a diagnosis aid; a stopped pod has none to give
      }
      pod.close();
    }
    for (GenericContainer<?> c : new GenericContainer<?>[] {hub, etcd}) {
      if (c != null) {
        c.stop();
      }
    }
    if (network != null) {
      network.close();
    }
  }

  @AfterEach
  void clientsNeverDisconnected() {
    assertThat(clients.disconnects()).allSatisfy((pod, n) -> assertThat(n).as("disconnects seen by the client of " + pod).isZero());
  }

  /**
   * A request with the token header through a connection of the test's own to {@code via}'s
   * broker; the reply's body, or null when none came within 5 s (no responder yet).
   */
  private static String request(NatsPod via, String subject, String body, String token) {
    try (Connection c = Nats.connect(new Options.Builder().server(via.clientUrl()).connectionName("cfg-operator").build())) {
      NatsMessage.Builder m = NatsMessage.builder().subject(subject).data(body.getBytes(StandardCharsets.UTF_8));
      if (token != null) {
        Headers h = new Headers();
        h.add("Authorization", "Bearer " + token);
        m.headers(h);
      }
      Message reply = c.request(m.build(), Duration.ofSeconds(5));
      return reply == null ? null : new String(reply.getData(), StandardCharsets.UTF_8);
    } catch (Exception e) {
      // no responders (the leader's client not subscribed yet) or a timeout: no answer
      return null;
    }
  }

  private static long revisionOf(String reply) {
    Matcher m = REVISION.matcher(reply);
    assertThat(m.find()).as("a revision in " + reply).isTrue();
    return Long.parseLong(m.group(1));
  }

  /** The URLs of {@code /varz} {@code cluster.urls} ("host:port"). */
  private static List<String> clusterUrls(NatsPod pod) {
    String varz = pod.varz();
    int cluster = varz.indexOf("\"cluster\"");
    Matcher m = URLS.matcher(varz);
    if (cluster < 0 || !m.find(cluster)) {
      return List.of("?no cluster.urls");
    }
    return Pattern.compile("\"([^\"]+)\"").matcher(m.group(1)).results().map(r -> r.group(1)).toList();
  }

  /**
   * Waits until every live broker tells a new client {@code name} and lists {@code route} in its
   * {@code /varz} {@code cluster.urls}; fails unless that happens within {@link #APPLIED} of
   * {@code t0}. Returns the milliseconds it took.
   */
  private long awaitApplied(String name, String route, long t0) {
    await()
        .atMost(APPLIED.minusNanos(System.nanoTime() - t0))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(
            () -> {
              for (NatsPod pod : live) {
                assertThat(pod.clusterName()).as(pod.name + " cluster name (INFO)").isEqualTo(name);
                assertThat(clusterUrls(pod)).as(pod.name + " /varz cluster.urls").contains(route);
              }
            });
    return (System.nanoTime() - t0) / 1_000_000;
  }

  /** Every live broker routes to every other one, and to nothing else of the group. */
  private void awaitMesh() {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(() -> {
          for (NatsPod pod : live) {
            assertThat(pod.routes()).as(pod.name + " routes").isEqualTo(pod.others(live));
          }
        });
  }

  private void awaitMeshAndDelivery() throws Exception {
    awaitMesh();
    clients.assertDelivery(live.get(live.size() - 1), live.get(0));
  }

  /** The leader's state records {@code rev} as applied ({@code kontrol status --group}). */
  private void awaitStateApplied(long rev) {
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(live.get(0).exec("kontrol", "status", "--group", "nats").getStdout())
            .contains("config rev " + rev + " applied"));
  }

  /** The last change is applied and recorded, and the brokers are meshed: the next step starts from rest. */
  private void settle() {
    if (revision > 0) {
      awaitStateApplied(revision);
    }
    awaitMesh();
  }

  private NatsPod leader() {
    return await().atMost(Duration.ofSeconds(30)).until(() -> live.stream().filter(NatsPod::isLeader).findFirst().orElse(null), p -> p != null);
  }

  @Test
  @Order(1)
  void theSeedsRequestRenamesAndRoutesEveryBrokerWithin2Seconds() throws Exception {
    String routes = live.stream().map(p -> "\"nats://" + p.ip() + ":4244\"").collect(Collectors.joining(",\n    "));
    // the seed's example as written, with this network's addresses (the brokers' cluster port is 4244)
    String seed = "{\n  \"name\": \"CLUSTER_A\",\n  \"routes\": [\n    " + routes + ",\n    \"nats://another-route:6222\"\n  ]\n}";
    NatsPod via = live.get(live.size() - 1);

    String reply = request(via, "_SAT.nats.config.put", seed, TOKEN);
    long t0 = System.nanoTime();
    assertThat(reply).as("the reply to the seed's payload").isNotNull().contains("\"ok\":true");
    revision = revisionOf(reply);

    long ms = awaitApplied("CLUSTER_A", "another-route:6222", t0);
    System.out.printf("_SAT.nats.config.put: every broker runs CLUSTER_A %d ms after the reply%n", ms);
    awaitStateApplied(revision);
    awaitMeshAndDelivery();
  }

  @Test
  @Order(2)
  void aRequestWithoutTheTokenOrWithABadDocumentIsRefusedAndNoBrokerIsTouched() throws Exception {
    settle();
    NatsPod via = live.get(0);
    Map<NatsPod, String> loaded = new java.util.HashMap<>();
    for (NatsPod pod : live) {
      loaded.put(pod, pod.configLoadTime());
    }
    String change = "{\"name\": \"CLUSTER_X\"}";

    assertThat(request(via, "_SAT.nats.config.put", change, null))
        .isEqualTo("{\"ok\":false,\"error\":\"a token is required (header Authorization: Bearer <token>)\"}");
    assertThat(request(via, "_SAT.CLUSTER_A.config.put", change, "not-" + TOKEN)).isEqualTo("{\"ok\":false,\"error\":\"wrong token\"}");
    assertThat(request(via, "_SAT.nats.config.get", "", null)).contains("\"ok\":false").contains("token is required");
    assertThat(request(via, "_SAT.nats.config.put", "{\"name\": \"CLUSTER_X\", \"color\": 1}", TOKEN))
        .contains("\"ok\":false").contains("color").contains("nothing stored");
    assertThat(request(via, "_SAT.nats.config.put", "{\"routes\": [\"http://another-route:6222\"]}", TOKEN))
        .contains("\"ok\":false").contains("routes[0]").contains("nothing stored");

    String get = request(via, "_SAT.CLUSTER_A.config.get", "", TOKEN);
    assertThat(get).contains("\"ok\":true").contains("\"name\":\"CLUSTER_A\"");
    assertThat(revisionOf(get)).as("nothing stored").isEqualTo(revision);
    // a change would reach every broker within 2 s: none reloads
    await()
        .during(APPLIED.plusSeconds(1))
        .atMost(APPLIED.plusSeconds(3))
        .until(() -> live.stream().allMatch(p -> p.configLoadTime().equals(loaded.get(p)) && p.clusterName().equals("CLUSTER_A")));
    assertThat(String.join("\n", live.stream().map(NatsPod::logs).toList()))
        .contains("config request refused").contains("no token").contains("wrong token");
  }

  @Test
  @Order(3)
  void kontrolConfigPutInAPodIsAppliedWithin2SecondsAndALeaderChangeLosesNothing() throws Exception {
    settle();
    NatsPod leader = leader();
    NatsPod operator = live.stream().filter(p -> p != leader).findFirst().orElseThrow();
    String doc = "{\"name\": \"CLUSTER_B\", \"routes\": [\"nats-route://another-route-b:4244\"]}";

    long t0 = System.nanoTime();
    ExecResult put = operator.exec("sh", "-c", "echo '" + doc + "' | kontrol config put nats -");
    long exited = System.nanoTime();
    assertThat(put.getExitCode()).as(put.getStderr()).isZero();
    revision = Long.parseLong(put.getStdout().strip());
    long ms = awaitApplied("CLUSTER_B", "another-route-b:4244", exited);
    System.out.printf("kontrol config put (docker exec): every broker runs CLUSTER_B %d ms after the command exited (%d ms after it started)%n",
        ms, (System.nanoTime() - t0) / 1_000_000);

    ExecResult get = operator.exec("kontrol", "config", "get", "nats");
    assertThat(get.getExitCode()).as(get.getStderr()).isZero();
    String stored = get.getStdout().replaceAll("\\s", "");
    assertThat(stored).isEqualTo("{\"name\":\"CLUSTER_B\",\"routes\":[\"nats-route://another-route-b:4244\"]}");
    assertThat(get.getStderr()).contains("revision " + revision);
    awaitStateApplied(revision);

    // the leader goes away: the next one serves the API, under the new name too, and keeps the configuration
    clients.drop(leader);
    leader.stop();
    live.remove(leader);
    NatsPod next = leader();
    assertThat(next).isNotSameAs(leader);
    for (String subject : List.of("_SAT.CLUSTER_B.config.get", "_SAT.nats.config.get")) {
      String reply = await().atMost(Duration.ofSeconds(30)).until(() -> request(operator, subject, "", TOKEN), r -> r != null && r.contains("\"ok\":true"));
      assertThat(revisionOf(reply)).as(subject + " after the leader change").isEqualTo(revision);
      assertThat(reply).contains("\"name\":\"CLUSTER_B\"").contains("another-route-b:4244");
    }
    ExecResult again = next.exec("kontrol", "config", "get", "nats");
    assertThat(again.getStdout().replaceAll("\\s", "")).isEqualTo(stored);
    awaitStateApplied(revision);
    awaitMesh();
    for (NatsPod pod : live) {
      assertThat(pod.clusterName()).as(pod.name + " after the leader change").isEqualTo("CLUSTER_B");
    }

    String reply = request(operator, "_SAT.CLUSTER_B.config.put", "{\"name\": \"CLUSTER_C\", \"routes\": [\"nats://another-route:6222\"]}", TOKEN);
    long t1 = System.nanoTime();
    assertThat(reply).isNotNull().contains("\"ok\":true");
    revision = revisionOf(reply);
    System.out.printf("after the leader change: every broker runs CLUSTER_C %d ms after the reply%n",
        awaitApplied("CLUSTER_C", "another-route:6222", t1));
    awaitStateApplied(revision);
    awaitMeshAndDelivery();
  }

  @Test
  @Order(4)
  void aLeafnodeRemoteReachesTheOutsideServerAndItsMessagesReachTheGroup() throws Exception {
    // a leafnode change restarts the brokers (nats-server 2.9 cannot reload leafnode remotes):
    // their clients reconnect, so they are closed for this step and connected again after it
    settle();
    for (NatsPod pod : live) {
      clients.drop(pod);
    }
    NatsPod via = live.get(0);
    String reply = request(via, "_SAT.nats.config.put",
        "{\"name\": \"CLUSTER_C\", \"leafnodes\": [{\"url\": \"nats-leaf://hub:7422\"}]}", TOKEN);
    assertThat(reply).isNotNull().contains("\"ok\":true");
    revision = revisionOf(reply);

    HttpClient http = HttpClient.newHttpClient();
    URI leafz = URI.create("http://" + hub.getHost() + ":" + hub.getMappedPort(8222) + "/leafz");
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(() -> {
          String body = http.send(HttpRequest.newBuilder(leafz).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString()).body();
          Matcher m = LEAFNODES.matcher(body);
          assertThat(m.find() ? Integer.parseInt(m.group(1)) : -1).as("hub /leafz leafnodes: " + body).isEqualTo(live.size());
        });
    awaitStateApplied(revision);
    awaitMesh();

    for (NatsPod pod : live) {
      clients.connect(pod);
    }
    NatsPod target = live.get(live.size() - 1);
    String subject = "cfg.from-hub." + System.nanoTime();
    Subscription sub = clients.get(target).subscribe(subject);
    clients.get(target).flush(Duration.ofSeconds(5));
    try (Connection outside = Nats.connect(new Options.Builder()
        .server("nats://" + hub.getHost() + ":" + hub.getMappedPort(4222)).connectionName("cfg-hub").build())) {
      // interest crosses the leafnode asynchronously: publish until one arrives
      Message got = await()
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> {
            outside.publish(subject, "hello from the hub".getBytes(StandardCharsets.UTF_8));
            outside.flush(Duration.ofSeconds(2));
            return sub.nextMessage(Duration.ofMillis(300));
          }, m -> m != null);
      assertThat(new String(got.getData(), StandardCharsets.UTF_8)).isEqualTo("hello from the hub");
    }
    clients.assertDelivery(live.get(0), target);
  }
}
