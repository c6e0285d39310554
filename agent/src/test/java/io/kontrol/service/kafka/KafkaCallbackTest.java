package io.kontrol.service.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import io.kontrol.service.Fanout;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The leader's decisions, with recording members and an in-memory quorum. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class KafkaCallbackTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, MemberInput> sent = new ConcurrentHashMap<>();
  private final List<String> log = new CopyOnWriteArrayList<>();
  private final FakeQuorum quorum = new FakeQuorum();

  static final class FakeQuorum implements Quorum {
    final List<Replica> voters = new CopyOnWriteArrayList<>();
    final List<Replica> observers = new CopyOnWriteArrayList<>();
    final List<String> changes = new CopyOnWriteArrayList<>();
    final AtomicInteger uuids = new AtomicInteger();
    volatile long leaderEnd = 100;

    @Override
    public View describe(List<String> bootstrap) {
      return new View(0, leaderEnd, List.copyOf(voters), List.copyOf(observers));
    }

    @Override
    public void addVoter(List<String> bootstrap, int id, String dir, String host) {
      changes.add("add " + id + " " + dir + " " + host);
      observers.removeIf(o -> o.id() == id && o.directoryId().equals(dir));
      voters.add(new Replica(id, dir, 100));
    }

    @Override
    public void removeVoter(List<String> bootstrap, int id, String dir) {
      changes.add("remove " + id + " " + dir);
      voters.removeIf(v -> v.id() == id && v.directoryId().equals(dir));
    }

    @Override
    public String randomUuid() {
      return "U" + uuids.incrementAndGet();
    }
  }

  private KafkaCallback callback() {
    return new KafkaCallback(
        new Fanout(
            (ip, state, input) -> {
              sent.put(ip, MemberInput.parse(input));
              return null;
            },
            log::add),
        quorum,
        3,
        log::add,
        Duration.ofSeconds(2),
        Duration.ofMillis(10));
  }

  private String run(String pods, String state) throws CallbackException {
    return callback().run(CallbackInput.parse(pods, state, log::add));
  }

  /** A record; {@code kafka} is its payload's kafka object (null: not published yet). */
  private static ObjectNode pod(int seq, ObjectNode kafka) {
    ObjectNode r = JSON.createObjectNode();
    r.put("app", "kafka").put("id", "kafka-" + seq).put("ip", "10.0.0." + seq).put("seq", seq).put("nonce", "n" + seq).put("role", "broker");
    ObjectNode payload = r.putObject("payload");
    if (kafka != null) {
      payload.set("kafka", kafka);
    }
    return r;
  }

  private static ObjectNode fresh(int seq) {
    return JSON.createObjectNode().put("host", "kafka-" + seq).put("formatted", false);
  }

  private static ObjectNode formatted(int seq, String cluster, int nodeId, String dir) {
    return JSON.createObjectNode()
        .put("host", "kafka-" + seq)
        .put("formatted", true)
        .put("cluster_id", cluster)
        .put("node_id", nodeId)
        .put("directory_id", dir)
        .put("started", true);
  }

  private static String pods(ObjectNode... records) {
    ArrayNode a = JSON.createArrayNode();
    for (ObjectNode r : records) {
      a.add(r);
    }
    return a.toString();
  }

  @Test
  void threeNewPodsFormOneClusterWithTheSameInitialControllers() throws Exception {
    String state = run(pods(pod(0, fresh(0)), pod(1, fresh(1)), pod(2, fresh(2)), pod(3, fresh(3))), "");

    JsonNode s = JSON.readTree(state);
    String cluster = s.get("cluster_id").asText();
    assertThat(cluster).isEqualTo("U1");
    assertThat(sent).hasSize(4);
    String initial = "0@kafka-0:9093:U2,1@kafka-1:9093:U3,2@kafka-2:9093:U4";
    for (int i = 0; i < 3; i++) {
      MemberInput in = sent.get("10.0.0." + i);
      assertThat(in.nodeId()).isEqualTo(i);
      assertThat(in.controller()).isTrue();
      assertThat(in.clusterId()).isEqualTo(cluster);
      assertThat(in.initialControllers()).isEqualTo(initial);
      assertThat(in.bootstrap()).containsExactly("kafka-0:9093", "kafka-1:9093", "kafka-2:9093");
    }
    assertThat(sent.get("10.0.0.3").controller()).isFalse();
    assertThat(s.get("initial_controllers").asText()).isEqualTo(initial);
    assertThat(quorum.changes).isEmpty();
  }

  @Test
  void aLostStateIsRebuiltFromTheVolumesAndNothingIsResentTwice() throws Exception {
    quorum.voters.addAll(List.of(new Quorum.Replica(0, "D0", 100), new Quorum.Replica(1, "D1", 100)));
    String state =
        run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1"))), null);
    assertThat(JSON.readTree(state).get("cluster_id").asText()).isEqualTo("C");
    assertThat(sent.values()).allSatisfy(in -> assertThat(in.initialControllers()).isNull());
    assertThat(log).anyMatch(l -> l.contains("adopting C"));

    sent.clear();
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1"))), state);
    assertThat(sent).isEmpty();
  }

  @Test
  void aLaterControllerJoinsAsObserverAndIsAddedOnceCaughtUp() throws Exception {
    quorum.voters.add(new Quorum.Replica(0, "D0", 100));
    quorum.observers.add(new Quorum.Replica(1, "D1", 95));
    String state = "{\"cluster_id\":\"C\",\"formed\":true,\"controllers\":3}";
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1"))), state);
    assertThat(quorum.changes).containsExactly("add 1 D1 kafka-1");
  }

  @Test
  void aNewPodOfAFormedClusterJoinsWithNoInitialControllers() throws Exception {
    quorum.voters.add(new Quorum.Replica(0, "D0", 100));
    String state = "{\"cluster_id\":\"C\",\"formed\":true,\"controllers\":3,\"initial_controllers\":\"0@kafka-0:9093:D0\"}";
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, fresh(1))), state);
    assertThat(sent.get("10.0.0.1").initialControllers()).isNull();
    assertThat(sent.get("10.0.0.1").controller()).isTrue();
  }

  @Test
  void aControllerBackWithAnEmptyVolumeReplacesItsStaleVoter() throws Exception {
    quorum.voters.addAll(List.of(new Quorum.Replica(0, "D0", 100), new Quorum.Replica(1, "OLD", 100), new Quorum.Replica(2, "D2", 100)));
    quorum.observers.add(new Quorum.Replica(1, "NEW", 100));
    String state = "{\"cluster_id\":\"C\",\"formed\":true,\"controllers\":3}";
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "NEW")), pod(2, formatted(2, "C", 2, "D2"))), state);
    assertThat(quorum.changes).containsExactly("remove 1 OLD", "add 1 NEW kafka-1");
  }

  @Test
  void anObserverThatDoesNotCatchUpFailsTheRunWithTheReason() {
    quorum.voters.add(new Quorum.Replica(0, "D0", 100_000));
    quorum.leaderEnd = 100_000;
    quorum.observers.add(new Quorum.Replica(1, "D1", 5));
    String state = "{\"cluster_id\":\"C\",\"formed\":true,\"controllers\":3}";
    assertThatThrownBy(() -> run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1"))), state))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("controller 1 to catch up as an observer");
    assertThat(quorum.changes).isEmpty();
  }

  @Test
  void theVolumesNodeIdWinsOverTheSeqAndAClaimOnAHeldIdIsRefused() throws Exception {
    // etcd rebuilt: seq 0 went to the pod whose volume is node 1, and seq 1 to an empty pod
    quorum.voters.add(new Quorum.Replica(1, "D1", 100));
    ObjectNode a = pod(0, formatted(0, "C", 1, "D1"));
    ObjectNode b = pod(1, fresh(1));
    run(pods(a, b), "{\"cluster_id\":\"C\",\"formed\":true}");
    assertThat(sent.get("10.0.0.0").nodeId()).isEqualTo(1);
    assertThat(sent.get("10.0.0.0").seq()).isEqualTo(0);
    assertThat(sent.get("10.0.0.1").refuse()).contains("node.id 1 is held by pod kafka-0 (its volume)");
  }

  @Test
  void aPodThatHasNotPublishedItsHostIsSkipped() throws Exception {
    run(pods(pod(0, fresh(0)), pod(1, null)), "");
    assertThat(sent).containsOnlyKeys("10.0.0.0");
    assertThat(log).anyMatch(l -> l.contains("kafka-1 has not published its host name"));
  }

  @Test
  void aPodThatDoesNotAnswerFailsTheRun() {
    KafkaCallback cb =
        new KafkaCallback(new Fanout((ip, state, input) -> ip.endsWith(".1") ? "DEADLINE_EXCEEDED" : null, log::add), quorum, 3, log::add);
    assertThatThrownBy(() -> cb.run(CallbackInput.parse(pods(pod(0, fresh(0)), pod(1, fresh(1))), "", log::add)))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("10.0.0.1 (DEADLINE_EXCEEDED)");
  }

  @Test
  void theControllerCountComesFromTheAnnotation() throws Exception {
    assertThat(KafkaCallback.controllers(Map.of())).isEqualTo(3);
    assertThat(KafkaCallback.controllers(Map.of("kafka.unity3d.com/controllers", "5"))).isEqualTo(5);
    assertThatThrownBy(() -> KafkaCallback.controllers(Map.of("kafka.unity3d.com/controllers", "2")))
        .isInstanceOf(CallbackException.class)
        .hasMessage("annotation kafka.unity3d.com/controllers is '2': expected 1, 3 or 5");
  }
}
