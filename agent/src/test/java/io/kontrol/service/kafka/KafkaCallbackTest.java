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
  /** What the roll did, in order: gate checks, restarts, back-in-ISR checks. */
  private final List<String> roll = new CopyOnWriteArrayList<>();
  private final FakeGate gate = new FakeGate();
  private final List<String> rollStatus = new CopyOnWriteArrayList<>();

  /** The brokers' answers to the roll: scripted refusals, and a broker back one check after its restart. */
  final class FakeGate implements RollChecks {
    final List<String> refusals = new CopyOnWriteArrayList<>();
    volatile boolean closed;

    @Override
    public String whyNot(int nodeId) {
      roll.add("gate " + nodeId);
      return refusals.isEmpty() ? null : refusals.size() == 1 ? refusals.get(0) : refusals.remove(0);
    }

    @Override
    public String outOfSync(int nodeId) {
      // out of sync at the first check after its restart, back at the second
      boolean first = !roll.get(roll.size() - 1).equals("behind " + nodeId);
      roll.add(first ? "behind " + nodeId : "back " + nodeId);
      return first ? "broker " + nodeId + " is not in the ISR of t-0" : null;
    }

    @Override
    public java.util.Set<Integer> brokers() {
      return java.util.Set.of(0, 1, 2, 3);
    }

    @Override
    public void close() {
      closed = true;
    }
  }

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

  /** The formation wait the callbacks get: none unless a test sets one. */
  private KafkaCallback.FormationWait formation = KafkaCallback.FormationWait.NONE;

  /** A formation wait of {@code bound} that began {@code agoMs} before the run; counts its ends. */
  static final class FakeWait implements KafkaCallback.FormationWait {
    final Duration bound;
    final long agoMs;
    final AtomicInteger done = new AtomicInteger();

    FakeWait(Duration bound, long agoMs) {
      this.bound = bound;
      this.agoMs = agoMs;
    }

    @Override
    public Duration bound() {
      return bound;
    }

    @Override
    public long since(long nowMs) {
      return nowMs - agoMs;
    }

    @Override
    public void done() {
      done.incrementAndGet();
    }
  }

  private KafkaCallback callback() {
    return new KafkaCallback(
        new Fanout(
            (ip, state, input) -> {
              if (state.equals(KafkaCallback.RESTART)) {
                roll.add("restart " + ip);
              } else {
                sent.put(ip, MemberInput.parse(input));
              }
              return null;
            },
            log::add),
        quorum,
        3,
        log::add,
        Duration.ofSeconds(2),
        Duration.ofMillis(10),
        bootstrap -> {
          roll.add("connect " + bootstrap);
          return gate;
        },
        rollStatus::add,
        formation);
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
  void formationWaitsForAllTheControllersThenFormsWithThemAtOnce() throws Exception {
    FakeWait wait = new FakeWait(Duration.ofSeconds(30), 5_000);
    formation = wait;
    // pods started together: the third registers after the leader's first run
    assertThatThrownBy(() -> run(pods(pod(0, fresh(0)), pod(1, fresh(1))), ""))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("forming waits for 3 controllers, 2 present (0 (kafka-0), 1 (kafka-1), 2 pod(s) in the group)")
        .hasMessageContaining("25 s more at most");
    assertThat(sent).isEmpty();
    assertThat(wait.done).hasValue(0);

    String state = run(pods(pod(0, fresh(0)), pod(1, fresh(1)), pod(2, fresh(2))), "");
    assertThat(wait.done).hasValue(1);
    assertThat(sent).hasSize(3);
    // the failed run kept nothing (its cluster id U1 was never sent): U2 and three directories
    JsonNode s = JSON.readTree(state);
    assertThat(s.get("cluster_id").asText()).isEqualTo("U2");
    assertThat(s.get("initial_controllers").asText()).isEqualTo("0@kafka-0:9093:U3,1@kafka-1:9093:U4,2@kafka-2:9093:U5");
  }

  @Test
  void theRunAfterFormationDoesNotConfigureThePodsAgain() throws Exception {
    String state = run(pods(pod(0, fresh(0)), pod(1, fresh(1)), pod(2, fresh(2))), "");
    assertThat(sent).hasSize(3);
    // the pods formatted their volumes with the initial controllers' directories and started
    for (int i = 0; i < 3; i++) {
      quorum.voters.add(new Quorum.Replica(i, "U" + (i + 2), 100));
    }
    sent.clear();
    run(pods(pod(0, formatted(0, "U1", 0, "U2")), pod(1, formatted(1, "U1", 1, "U3")), pod(2, formatted(2, "U1", 2, "U4"))), state);
    assertThat(sent).isEmpty();
    assertThat(log).anyMatch(l -> l.contains("3 pod(s) already configured"));

    // an empty volume still gets its input again (its pod restarted with a new nonce: a new pod)
    ObjectNode again = pod(1, fresh(1));
    again.put("nonce", "n1-again");
    run(pods(pod(0, formatted(0, "U1", 0, "U2")), again, pod(2, formatted(2, "U1", 2, "U4"))), state);
    assertThat(sent).containsOnlyKeys("10.0.0.1");
    assertThat(sent.get("10.0.0.1").initialControllers()).isNull();
  }

  @Test
  void aControllerThatHasNotPublishedItsHostIsWaitedForToo() {
    formation = new FakeWait(Duration.ofSeconds(30), 0);
    assertThatThrownBy(() -> run(pods(pod(0, fresh(0)), pod(1, fresh(1)), pod(2, null)), ""))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("2 present")
        .hasMessageContaining("3 pod(s) in the group");
    assertThat(sent).isEmpty();
  }

  @Test
  void afterItsWaitALonePodFormsAOneVoterCluster() throws Exception {
    FakeWait wait = new FakeWait(Duration.ofSeconds(30), 31_000);
    formation = wait;
    String state = run(pods(pod(0, fresh(0))), "");
    assertThat(sent.get("10.0.0.0").initialControllers()).isEqualTo("0@kafka-0:9093:U2");
    assertThat(JSON.readTree(state).get("formed").asBoolean()).isTrue();
    assertThat(wait.done).hasValue(1);
    assertThat(log).anyMatch(l -> l.contains("forming with 1 of 3 controllers (0 (kafka-0)) after waiting 31 s"));
  }

  @Test
  void aFormedClusterDoesNotWaitForControllers() throws Exception {
    FakeWait wait = new FakeWait(Duration.ofSeconds(30), 0);
    formation = wait;
    quorum.voters.add(new Quorum.Replica(0, "D0", 100));
    run(pods(pod(0, formatted(0, "C", 0, "D0"))), "{\"cluster_id\":\"C\",\"formed\":true,\"controllers\":3}");
    assertThat(wait.done).hasValue(0);
    assertThat(log).noneMatch(l -> l.contains("forming"));
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
  void aVolumeOfAnotherClusterIsSentItsInputOnceAndAgainOnlyWithANewNonce() throws Exception {
    quorum.voters.addAll(List.of(new Quorum.Replica(0, "D0", 100), new Quorum.Replica(1, "D1", 100)));
    // the pod refused its input: its payload says so, and that it did not start
    ObjectNode foreign = pod(2, formatted(2, "OTHER", 2, "DX").put("started", false));
    foreign.with("payload").put("config_error", "the volume /data/kafka/data belongs to Kafka cluster OTHER");
    String state =
        run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1")), foreign), "{\"cluster_id\":\"C\",\"formed\":true,\"controllers\":3}");
    // the first run of this state knows no member's last input: all three get theirs
    assertThat(sent).containsKey("10.0.0.2");
    assertThat(sent.get("10.0.0.2").clusterId()).isEqualTo("C");
    // it is no controller of this cluster: not in the quorum's bootstrap
    assertThat(sent.get("10.0.0.0").bootstrap()).containsExactly("kafka-0:9093", "kafka-1:9093");
    // neither a voter change nor a roll for it
    assertThat(quorum.changes).isEmpty();

    sent.clear();
    state = run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1")), foreign), state);
    assertThat(sent).isEmpty();
    assertThat(log).anyMatch(l -> l.contains("3 pod(s) already configured"));

    // the pod back with another volume (a new agent start, a new nonce) gets its input again
    ObjectNode back = pod(2, fresh(2));
    back.put("nonce", "n2-again");
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1")), back), state);
    assertThat(sent.get("10.0.0.2").nodeId()).isEqualTo(2);
    // now a controller of this cluster: every pod gets the longer bootstrap
    assertThat(sent.values()).hasSize(3).allSatisfy(in -> assertThat(in.bootstrap()).contains("kafka-2:9093"));
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
        new KafkaCallback(
            new Fanout((ip, state, input) -> ip.endsWith(".1") ? "DEADLINE_EXCEEDED" : null, log::add),
            quorum,
            3,
            log::add,
            bootstrap -> gate,
            rollStatus::add,
            KafkaCallback.FormationWait.NONE);
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

  private static ObjectNode pending(ObjectNode kafka, String... keys) {
    ArrayNode a = kafka.putArray("restart_pending");
    for (String k : keys) {
      a.add(k);
    }
    return kafka;
  }

  private String formedWithVoters012() {
    quorum.voters.addAll(List.of(new Quorum.Replica(0, "D0", 100), new Quorum.Replica(1, "D1", 100), new Quorum.Replica(2, "D2", 100)));
    return "{\"cluster_id\":\"C\",\"formed\":true,\"controllers\":3}";
  }

  @Test
  void aRollRestartsOneBrokerAtATimeBrokersFirstAndTheActiveControllerLast() throws Exception {
    String state = formedWithVoters012();
    // the quorum's leader (the active controller) is node 0
    run(
        pods(
            pod(0, pending(formatted(0, "C", 0, "D0"), "num.partitions")),
            pod(1, pending(formatted(1, "C", 1, "D1"), "num.partitions")),
            pod(2, pending(formatted(2, "C", 2, "D2"), "num.partitions")),
            pod(3, pending(formatted(3, "C", 3, "D3"), "num.partitions"))),
        state);

    assertThat(roll)
        .containsExactly(
            "connect kafka-0:9092,kafka-1:9092,kafka-2:9092,kafka-3:9092",
            "gate 3", "restart 10.0.0.3", "behind 3", "back 3",
            "gate 1", "restart 10.0.0.1", "behind 1", "back 1",
            "gate 2", "restart 10.0.0.2", "behind 2", "back 2",
            "gate 0", "restart 10.0.0.0", "behind 0", "back 0");
    assertThat(gate.closed).isTrue();
    assertThat(rollStatus).containsExactly((String) null);
    assertThat(log).anyMatch(l -> l.contains("rolling restart of 4 broker(s), in this order: 3 (kafka-3), 1 (kafka-1), 2 (kafka-2), 0 (kafka-0)"));
  }

  @Test
  void onlyThePodsWaitingForARestartAreRolledAndNoneWhenNoneWaits() throws Exception {
    String state = formedWithVoters012();
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, pending(formatted(1, "C", 1, "D1"), "num.partitions")), pod(2, formatted(2, "C", 2, "D2"))), state);
    assertThat(roll).filteredOn(e -> e.startsWith("restart")).containsExactly("restart 10.0.0.1");

    roll.clear();
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1")), pod(2, formatted(2, "C", 2, "D2"))), state);
    assertThat(roll).isEmpty();
  }

  @Test
  void aRefusedRestartWaitsWithABackOffAndSaysWhyThenGoesOn() throws Exception {
    String state = formedWithVoters012();
    String why = "stopping broker 2 would leave 1 partition(s) below min.insync.replicas: t-0 ISR [1, 2] (min.insync.replicas 2)";
    gate.refusals.addAll(java.util.Arrays.asList(why, why, why, null));
    run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, formatted(1, "C", 1, "D1")), pod(2, pending(formatted(2, "C", 2, "D2"), "num.partitions"))), state);

    assertThat(roll).containsSubsequence("gate 2", "gate 2", "gate 2", "gate 2", "restart 10.0.0.2", "back 2");
    assertThat(roll).filteredOn(e -> e.equals("gate 2")).hasSize(4);
    // said once while it waited (not once per refusal), cleared when done
    assertThat(rollStatus).containsExactly("broker 2 not restarted yet: " + why, null);
    assertThat(log).filteredOn(l -> l.contains("t-0 ISR [1, 2]")).hasSize(1);
  }

  @Test
  void aRestartRefusedTenTimesFailsTheRunWithTheReasonAndRestartsNothing() {
    String state = formedWithVoters012();
    gate.refusals.add("stopping broker 1 would leave 1 partition(s) below min.insync.replicas: t-2 ISR [0, 1] (min.insync.replicas 2)");
    assertThatThrownBy(
            () -> run(pods(pod(0, formatted(0, "C", 0, "D0")), pod(1, pending(formatted(1, "C", 1, "D1"), "num.partitions")), pod(2, formatted(2, "C", 2, "D2"))), state))
        .isInstanceOf(CallbackException.class)
        .hasMessageContaining("t-2 ISR [0, 1]")
        .hasMessageContaining("refused 10 times");
    assertThat(roll).filteredOn(e -> e.startsWith("restart")).isEmpty();
    assertThat(roll).filteredOn(e -> e.equals("gate 1")).hasSize(10);
    assertThat(rollStatus).last().asString().contains("t-2 ISR [0, 1]");
  }
}
