package io.kontrol.service.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.groupconfig.GroupConfig;
import io.kontrol.agent.groupconfig.GroupConfigStore;
import io.kontrol.agent.sidecar.Sidecar;
import io.kontrol.agent.testing.EtcdCluster;
import io.nats.client.Connection;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Subscription;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NATS request API of the group's leader, with real pieces: a real nats-server on loopback
 * (both agents' "own broker"), real etcd, two agents as {@code kontrol run} wires them
 * ({@link Sidecar}), and a jnats client sending the seed's requests. The steps build on each other.
 */
@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class ConfigApiTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  static final ObjectMapper JSON = new ObjectMapper();
  static final String TOKEN = "s3cret-token";

  @TempDir static Path dir;
  Process broker;
  Connection client;
  final String app = "napi" + ThreadLocalRandom.current().nextInt(100_000, 999_999);
  final Map<String, Sidecar> agents = new HashMap<>();
  Group group;

  @BeforeAll
  void start() throws Exception {
    group = new Group("default", app);
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    broker =
        new ProcessBuilder("/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", Integer.toString(port))
            .redirectErrorStream(true)
            .redirectOutput(Files.createDirectories(dir).resolve("nats-server.log").toFile())
            .start();
    String url = "nats://127.0.0.1:" + port;
    await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> {
      client = Nats.connect(url);
      return true;
    });
    for (String id : List.of("n0", "n1")) {
      agents.put(id, sidecar(id, url, "{\"" + ConfigApi.ANNOTATION + "\":\"true\"}"));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> leader() != null);
  }

  Sidecar sidecar(String id, String url, String annotations) {
    Map<String, String> env = new HashMap<>();
    env.put("KONTROL_ETCD", ETCD.endpointList());
    env.put("KONTROL_MODE", "master,slave");
    env.put("KONTROL_ID", id);
    env.put("KONTROL_IP", "127.0.0." + (40 + agents.size()));
    env.put("KONTROL_LABELS", "{\"app\":\"" + app + "\",\"role\":\"broker\"}");
    env.put("KONTROL_ANNOTATIONS", annotations);
    env.put("KONTROL_TTL", "2");
    env.put("KONTROL_FOVER", "3");
    env.put("KONTROL_DAMPER", "0");
    env.put("KONTROL_HTTP_PORT", "0");
    env.put("KONTROL_PORT", "0");
    env.put("KONTROL_PODINFO", dir.resolve("no-podinfo").toString());
    env.put("KONTROL_SOCKET", dir.resolve("no-automaton.sock").toString());
    env.put("KONTROL_NATS_URL", url);
    env.put("KONTROL_TOKEN", TOKEN);
    env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    return Sidecar.start(AgentConfig.fromEnvironment(env));
  }

  String leader() {
    return agents.entrySet().stream()
        .filter(e -> e.getValue().agent().status().leads(group))
        .map(Map.Entry::getKey)
        .findFirst()
        .orElse(null);
  }

  @AfterAll
  void stop() throws Exception {
    agents.values().parallelStream().forEach(Sidecar::close);
    if (client != null) {
      client.close();
    }
    if (broker != null) {
      broker.destroy();
      broker.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Sends a request and collects every reply for a moment: exactly one responder must answer. */
  List<JsonNode> request(String subject, String body, String token) throws Exception {
    String inbox = client.createInbox();
    Subscription sub = client.subscribe(inbox);
    try {
      Headers h = new Headers();
      if (token != null) {
        h.add("Authorization", "Bearer " + token);
      }
      client.publish(NatsMessage.builder().subject(subject).replyTo(inbox).headers(h).data(body.getBytes(StandardCharsets.UTF_8)).build());
      client.flush(Duration.ofSeconds(2));
      List<JsonNode> replies = new ArrayList<>();
      Message m = sub.nextMessage(Duration.ofSeconds(6));
      while (m != null) {
        if (!m.isStatusMessage()) { // nats-server's "no responders" (503) is no answer
          replies.add(JSON.readTree(m.getData()));
        }
        m = sub.nextMessage(Duration.ofMillis(300));
      }
      return replies;
    } finally {
      sub.unsubscribe();
    }
  }

  JsonNode one(String subject, String body, String token) throws Exception {
    List<JsonNode> replies = request(subject, body, token);
    assertThat(replies).as("replies on " + subject).hasSize(1);
    return replies.get(0);
  }

  KeyValue stored() throws Exception {
    List<KeyValue> kvs =
        ETCD.client().getKVClient().get(ByteSequence.from(group.configKey(), StandardCharsets.UTF_8)).get(5, TimeUnit.SECONDS).getKvs();
    return kvs.isEmpty() ? null : kvs.get(0);
  }

  /** The seed's payload, with this test's addresses. */
  static final String SEED =
      "{\n  \"name\": \"CLUSTER_A\",\n  \"routes\": [\n    \"nats://127.0.0.1:16222\",\n    \"nats://another-route:6222\"\n  ]\n}";

  @Test
  @Order(1)
  void theSeedsPutIsStoredAndGetReturnsIt() throws Exception {
    await().atMost(Duration.ofSeconds(10)).until(() -> !request("_SAT." + app + ".config.get", "", TOKEN).isEmpty());
    JsonNode put = one("_SAT." + app + ".config.put", SEED, TOKEN);
    assertThat(put.get("ok").asBoolean()).as(put.toString()).isTrue();
    long rev = put.get("revision").asLong();
    KeyValue kv = stored();
    assertThat(kv.getModRevision()).isEqualTo(rev);
    assertThat(GroupConfig.parse(kv.getValue().toString(StandardCharsets.UTF_8))).isEqualTo(GroupConfig.parse(SEED));

    JsonNode get = one("_SAT." + app + ".config.get", "", TOKEN);
    assertThat(get.get("ok").asBoolean()).isTrue();
    assertThat(get.get("revision").asLong()).isEqualTo(rev);
    assertThat(get.get("config").get("name").asText()).isEqualTo("CLUSTER_A");
    assertThat(get.get("config").get("routes")).hasSize(2);
  }

  @Test
  @Order(2)
  void theRenamedClusterAnswersUnderItsNewNameToo() throws Exception {
    await().atMost(Duration.ofSeconds(5)).until(() -> request("_SAT.CLUSTER_A.config.get", "", TOKEN).size() == 1);
    assertThat(one("_SAT.CLUSTER_A.config.get", "", TOKEN).get("config").get("name").asText()).isEqualTo("CLUSTER_A");
    // renamed around the API (kontrol config put): the leader follows the stored name
    long rev = new GroupConfigStore(ETCD.client().getKVClient(), Duration.ofSeconds(5)).put(group, GroupConfig.parse("{\"name\":\"CLUSTER_B\"}"));
    await().atMost(Duration.ofSeconds(5)).until(() -> request("_SAT.CLUSTER_B.config.get", "", TOKEN).size() == 1);
    assertThat(one("_SAT.CLUSTER_B.config.get", "", TOKEN).get("revision").asLong()).isEqualTo(rev);
    assertThat(request("_SAT.CLUSTER_A.config.get", "", TOKEN)).isEmpty();
    assertThat(one("_SAT." + app + ".config.get", "", TOKEN).get("revision").asLong()).isEqualTo(rev);
  }

  @Test
  @Order(3)
  void badRequestsAreRefusedWithTheReasonAndNothingIsStored() throws Exception {
    long before = stored().getModRevision();
    Map<String, String> bad = new java.util.LinkedHashMap<>();
    bad.put("{\"name\": \"A\"", "not JSON: line 1 column");
    bad.put("{\"name\": \"A\", \"cluster\": {}}", "cluster: unknown key");
    bad.put("{\"routes\": [\"http://10.0.0.1:4244\"]}", "routes[0]: \"http://10.0.0.1:4244\" is not a nats-route:// or nats:// URL");
    bad.put("{\"name\": \"A B\"}", "name: \"A B\" is not a cluster name");
    bad.put("{\"leafnodes\": [{\"url\": \"nats-leaf://[x:7422\"}]}", "leafnodes[0].url: \"nats-leaf://[x:7422\" does not parse as a URL");
    for (Map.Entry<String, String> e : bad.entrySet()) {
      JsonNode r = one("_SAT." + app + ".config.put", e.getKey(), TOKEN);
      assertThat(r.get("ok").asBoolean()).as(e.getKey()).isFalse();
      assertThat(r.get("error").asText()).as(e.getKey()).contains(e.getValue(), "(nothing stored)");
    }
    JsonNode none = one("_SAT." + app + ".config.put", "{\"name\":\"X\"}", null);
    assertThat(none.get("ok").asBoolean()).isFalse();
    assertThat(none.get("error").asText()).contains("a token is required");
    JsonNode wrong = one("_SAT." + app + ".config.put", "{\"name\":\"X\"}", "not-the-token");
    assertThat(wrong.get("error").asText()).isEqualTo("wrong token");
    assertThat(one("_SAT." + app + ".config.get", "", null).get("ok").asBoolean()).isFalse();
    assertThat(stored().getModRevision()).isEqualTo(before);
  }

  @Test
  @Order(4)
  void aNewLeaderTakesTheSubscriptionOver() throws Exception {
    String old = leader();
    agents.remove(old).close();
    await().atMost(Duration.ofSeconds(20)).until(() -> leader() != null);
    JsonNode put = await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(
        () -> one("_SAT." + app + ".config.put", "{\"name\":\"CLUSTER_C\"}", TOKEN), r -> r.get("ok").asBoolean());
    assertThat(stored().getModRevision()).isEqualTo(put.get("revision").asLong());
    await().atMost(Duration.ofSeconds(5)).until(() -> request("_SAT.CLUSTER_C.config.get", "", TOKEN).size() == 1);
  }

  @Test
  @Order(5)
  void onlyTheAnnotationsExactTrueTurnsTheApiOn() {
    assertThat(ConfigApi.enabled(Map.of())).isFalse();
    assertThat(ConfigApi.enabled(Map.of(ConfigApi.ANNOTATION, "yes"))).isFalse();
    assertThat(ConfigApi.enabled(Map.of(ConfigApi.ANNOTATION, "true"))).isTrue();
  }
}
