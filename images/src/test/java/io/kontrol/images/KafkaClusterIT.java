package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
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

/**
 * Three kontrol/kafka pods on a Docker network with an etcd: they form one KRaft cluster by
 * themselves (ids from seq, one cluster id, a dynamic quorum of three voters) with the overrides
 * of their annotation. One cluster serves every step, in order: formation, the overrides, kill -9
 * and kill -STOP of a broker JVM, a dynamic override, the roll under load, the roll gate refusing
 * while broker 2 is stopped, a pod restarted with its volume, then one pod replaced twice: by a
 * pod with a volume of another cluster (refused), then by one with an empty volume (a controller
 * that rejoins and replaces its voter entry); last, etcd stopped for 3 × TTL under load (the
 * failsafe: nothing changes), then wiped (the volumes keep every identity).
 */
@Timeout(value = 30, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class KafkaClusterIT {

  /**
   * Small internal topics for a 2-core machine, the original's topic-level retention name, and
   * one managed key, which every pod must refuse while applying the rest.
   */
  static final String OVERRIDES =
      String.join(
          "\n",
          "num.partitions=3",
          "retention.ms=3600000",
          "offsets.topic.num.partitions=3",
          "transaction.state.log.num.partitions=3",
          "group.initial.rebalance.delay.ms=0",
          "node.id=9");

  private Network network;
  private GenericContainer<?> etcd;
  /** A container of the image without its pod (no agent, no broker), for clients on the network. */
  private GenericContainer<?> client;
  private final List<KafkaPod> pods = new ArrayList<>();

  @BeforeAll
  @SuppressWarnings("resource")
  void startCluster() {
    LocalImages.require(LocalImages.KAFKA, LocalImages.ETCD);
    // its own subnet: the etcd that replaces a wiped one takes the old one's address
    network = DockerNetworks.withOwnSubnet();
    etcd = LocalImages.etcd(network);
    etcd.start();
    for (int i = 0; i < 3; i++) {
      pods.add(new KafkaPod("kafka-" + i, network, OVERRIDES));
    }
    // all three at once, as a StatefulSet with parallel pod management starts them
    ExecutorService starter = Executors.newFixedThreadPool(pods.size(), r -> new Thread(r, "kafka-it-start"));
    try {
      CompletableFuture.allOf(pods.stream().map(p -> CompletableFuture.runAsync(p::start, starter)).toArray(CompletableFuture[]::new))
          .get(5, TimeUnit.MINUTES);
    } catch (Exception e) {
      throw new IllegalStateException("the pods did not start: " + e, e);
    } finally {
      starter.shutdownNow();
    }
  }

  @AfterAll
  void stopAll() {
    Path logs = logs();
    if (client != null) {
      client.stop();
    }
    for (KafkaPod pod : pods) {
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

  @Test
  @Order(1)
  void threePodsFormOneClusterWithNodeIdsFromSeq() {
    long t0 = System.nanoTime();
    await()
        .atMost(Duration.ofMinutes(8))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(
            () -> {
              String status = pods.get(0).quorumStatus();
              assertThat(KafkaPod.voters(status)).as("voters").containsExactly(0, 1, 2);
              assertThat(status).containsPattern("LeaderId:\\s+[012]\\b");
              assertThat(pods.get(0).unfencedBrokers()).as("unfenced brokers").containsExactly(0, 1, 2);
            });
    System.out.printf("3 pods formed a cluster %d s after their containers started%n", (System.nanoTime() - t0) / 1_000_000_000);

    Set<String> clusterIds = new TreeSet<>();
    String status = pods.get(0).quorumStatus();
    for (KafkaPod pod : pods) {
      Properties meta = pod.meta();
      assertThat(meta.getProperty("node.id")).as(pod.name + " node.id").isEqualTo(String.valueOf(pod.seq()));
      clusterIds.add(meta.getProperty("cluster.id"));
      // the voter of this node is this pod's volume
      assertThat(status).contains("{\"id\": " + meta.getProperty("node.id") + ", \"directoryId\": \"" + meta.getProperty("directory.id") + "\"");
    }
    assertThat(clusterIds).hasSize(1);
    assertThat(status).contains("ClusterId:              " + clusterIds.iterator().next());
    KafkaPod leader = pods.stream().filter(KafkaPod::isLeader).findFirst().orElseThrow();
    assertThat(leader.status()).contains("cluster_id").contains(clusterIds.iterator().next());
  }

  @Test
  @Order(2)
  void theOverridesApplyAndAManagedKeyIsAConfigError() {
    KafkaPod pod = pods.get(1);
    ExecResult created =
        pod.exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--create", "--topic", "it-defaults");
    assertThat(created.getExitCode()).as(created.getStderr()).isZero();
    String topic = pod.exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--describe", "--topic", "it-defaults").getStdout();
    assertThat(topic).contains("PartitionCount: 3").contains("ReplicationFactor: 3");

    for (KafkaPod p : pods) {
      int id = Integer.parseInt(p.meta().getProperty("node.id"));
      String config =
          p.exec("kafka-configs.sh", "--bootstrap-server", "localhost:9092", "--describe", "--entity-type", "brokers", "--entity-name", String.valueOf(id), "--all").getStdout();
      assertThat(config).as("broker " + id).contains("log.retention.ms=3600000").contains("min.insync.replicas=2").contains("unclean.leader.election.enable=false");
      assertThat(p.exec("cat", "/data/kafka/server.properties").getStdout()).contains("node.id=" + id + "\n").doesNotContain("node.id=9");
      assertThat(p.payload()).contains("config_error").contains("line 6: 'node.id' is set by the pod itself");
    }
  }

  /** Every broker is listed unfenced by the given pod's own broker (so that one serves). */
  private void awaitServing(KafkaPod pod, Duration within) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(pod.unfencedBrokers()).as(pod.name + " serving, every broker unfenced").containsExactly(0, 1, 2));
  }

  @Test
  @Order(3)
  void aKilledBrokerJvmServesAgainWithin60SecondsAndIsCountedOnce() {
    KafkaPod pod = pods.get(2);
    long pid = pod.brokerPid();
    int restarts = pod.restarts();
    assertThat(pid).isPositive();

    pod.signalBroker("KILL", pid);
    long t0 = System.nanoTime();
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).until(() -> pod.brokerPid() > 0 && pod.brokerPid() != pid);
    awaitServing(pod, Duration.ofSeconds(60).minusNanos(System.nanoTime() - t0));
    System.out.printf("kill -9: broker serving again %d ms later%n", (System.nanoTime() - t0) / 1_000_000);
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(pod.restarts()).isEqualTo(restarts + 1));
    assertThat(pod.payload()).contains("exited");
  }

  @Test
  @Order(4)
  void aStoppedBrokerJvmIsKilledAndRestartedWithin30SecondsAndCountedOnce() {
    KafkaPod pod = pods.get(1);
    awaitServing(pod, Duration.ofSeconds(60));
    long pid = pod.brokerPid();
    int restarts = pod.restarts();

    pod.signalBroker("STOP", pid);
    long t0 = System.nanoTime();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).until(() -> pod.brokerPid() > 0 && pod.brokerPid() != pid);
    System.out.printf("kill -STOP: broker restarted %d ms later%n", (System.nanoTime() - t0) / 1_000_000);
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(pod.restarts()).isEqualTo(restarts + 1));
    assertThat(pod.payload()).contains("killed: no answer");
    awaitServing(pod, Duration.ofSeconds(90));
    assertThat(pod.restarts()).isEqualTo(restarts + 1);
  }

  /** The broker-level value of {@code key} and its source, as broker {@code id} reports it. */
  private static String brokerConfig(KafkaPod pod, int id, String key) {
    String out =
        pod.exec("kafka-configs.sh", "--bootstrap-server", "localhost:9092", "--describe", "--entity-type", "brokers", "--entity-name", String.valueOf(id), "--all").getStdout();
    return out.lines().map(String::strip).filter(l -> l.startsWith(key + "=")).findFirst().orElse(key + " absent");
  }

  @Test
  @Order(5)
  void aDynamicOverrideIsAppliedWithoutARestartAndRevertsWhenRemoved() throws Exception {
    KafkaPod pod = pods.get(0);
    int id = Integer.parseInt(pod.meta().getProperty("node.id"));
    long pid = pod.brokerPid();
    String changed = OVERRIDES.replace("retention.ms=3600000", "retention.ms=7200000");
    pod.podinfo(changed);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(brokerConfig(pod, id, "log.retention.ms")).startsWith("log.retention.ms=7200000").contains("DYNAMIC_BROKER_CONFIG"));
    assertThat(pod.brokerPid()).isEqualTo(pid);

    // removed from the annotation: back to the image's default, still without a restart
    pod.podinfo(OVERRIDES.replace("retention.ms=3600000\n", ""));
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(brokerConfig(pod, id, "log.retention.ms")).startsWith("log.retention.ms=259200000"));
    assertThat(pod.brokerPid()).isEqualTo(pid);
  }

  private static final Pattern RESTART_LINE =
      Pattern.compile("^(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}) .*kafka restart: restarting the broker", Pattern.MULTILINE);
  private static final DateTimeFormatter AUTOMATON_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

  /**
   * The overrides change on every pod (a read-only key: num.partitions) and the leader rolls
   * every broker, one at a time, while an idempotent acks=all producer writes 100 records a
   * second: no send fails, every acknowledged record is read back exactly once, and no restart
   * began while any partition of the cluster had an ISR below 3 (sampled every second).
   */
  @Test
  @Order(6)
  void aReadOnlyOverrideRollsEveryBrokerWithZeroFailedAcksAllWrites() throws Exception {
    client = KafkaPod.client(network);
    GenericContainer<?> c = client;
    ExecResult created =
        pods.get(0).exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--create", "--topic", "it-roll", "--partitions", "3", "--replication-factor", "3");
    assertThat(created.getExitCode()).as(created.getStderr()).isZero();
    Map<String, Long> pids = new HashMap<>();
    Map<String, Integer> restarts = new HashMap<>();
    for (KafkaPod p : pods) {
      pids.put(p.name, p.brokerPid());
      restarts.put(p.name, p.restarts());
    }
    startLoad(c, "it-roll", "/tmp/load");

    long t0 = System.nanoTime();
    // as a changed pod template gives every pod its new annotations
    String rolled = OVERRIDES.replaceFirst("(?m)^num\\.partitions=3$", "num.partitions=4");
    pods.forEach(p -> p.podinfo(rolled));
    await()
        .atMost(Duration.ofMinutes(8))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(
            () -> {
              for (KafkaPod p : pods) {
                assertThat(p.brokerPid()).as(p.name + " restarted").isNotIn(0L, pids.get(p.name));
                assertThat(p.payload()).as(p.name + " payload").doesNotContain("restart_pending").contains("\"last_restart\":\"rolled:");
              }
              assertThat(pods.get(0).unfencedBrokers()).as("every broker unfenced").containsExactly(0, 1, 2);
            });
    System.out.printf("roll of 3 brokers under load: %d s from the annotation change%n", (System.nanoTime() - t0) / 1_000_000_000);
    stopLoadAndCheck(c, "/tmp/load", "roll under load");

    // every restart began while every partition of the cluster had its 3 replicas in sync
    TreeMap<Long, String> isr = new TreeMap<>();
    c.execInContainer("cat", "/tmp/load/isr.log").getStdout().lines().forEach(l -> {
      String[] f = l.split(" ", 2);
      isr.put(Long.parseLong(f[0]), f[1]);
    });
    List<Long> began = new ArrayList<>();
    for (KafkaPod p : pods) {
      Matcher m = RESTART_LINE.matcher(p.logs());
      while (m.find()) {
        began.add(Instant.from(AUTOMATON_TIME.parse(m.group(1))).toEpochMilli());
      }
      assertThat(p.restarts()).as(p.name + " restarts (the roll counted once)").isEqualTo(restarts.get(p.name) + 1);
      int id = Integer.parseInt(p.meta().getProperty("node.id"));
      assertThat(brokerConfig(p, id, "num.partitions")).startsWith("num.partitions=4");
    }
    assertThat(began).as("restarts").hasSize(3);
    for (long t : began) {
      Map.Entry<Long, String> before = isr.floorEntry(t);
      assertThat(before).as("an ISR sample before the restart at " + Instant.ofEpochMilli(t)).isNotNull();
      assertThat(t - before.getKey()).as("sample age").isLessThan(2500);
      assertThat(before.getValue()).as("ISR at " + Instant.ofEpochMilli(before.getKey()) + ", before the restart at " + Instant.ofEpochMilli(t)).startsWith("3 []");
    }
  }

  /** The pod whose volume is node {@code id}. */
  private KafkaPod byNodeId(int id) {
    return pods.stream().filter(p -> String.valueOf(id).equals(p.meta().getProperty("node.id"))).findFirst().orElseThrow();
  }

  /** The ISRs of {@code topic}'s partitions (null: every topic's) as pod's broker describes them, one {@code a,b,c} per partition. */
  private static List<String> isrs(KafkaPod pod, String topic) {
    List<String> command = new ArrayList<>(List.of("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--describe"));
    if (topic != null) {
      command.addAll(List.of("--topic", topic));
    }
    String out = pod.exec(command.toArray(String[]::new)).getStdout();
    List<String> isr = new ArrayList<>();
    Matcher m = Pattern.compile("Isr: ([\\d,]+)").matcher(out);
    while (m.find()) {
      isr.add(m.group(1));
    }
    return isr;
  }

  /**
   * The gate end to end: with broker 2 stopped, broker 1 waits for a restart (a read-only key
   * changed on its pod only); the leader does not restart it while that would leave a partition
   * below min.insync.replicas, and says why, naming the partition and its ISR. Broker 2 is then
   * started at once: broker 1 is not restarted before broker 2 is back in the ISR of every
   * partition of the cluster (sampled every few seconds, compared with the time broker 1's restart
   * began), and the roll goes on by itself once it is.
   */
  @Test
  @Order(7)
  void theRollGateRefusesWhileAPartitionWouldFallBelowMinInsyncAndSaysWhy() {
    KafkaPod down = byNodeId(2);
    KafkaPod waiting = byNodeId(1);
    KafkaPod observer = byNodeId(0);
    awaitServing(waiting, Duration.ofSeconds(90));
    long pid = waiting.brokerPid();
    int restarts = waiting.restarts();
    ExecResult stopped = down.exec("supervisorctl", "stop", "kafka");
    assertThat(stopped.getExitCode()).as(stopped.getStdout()).isZero();
    // the controlled shutdown takes broker 2 out of every ISR: each partition of it-defaults has 2 replicas in sync
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(isrs(waiting, "it-defaults")).hasSize(3).allSatisfy(isr -> assertThat(isr).doesNotContain("2")));

    waiting.podinfo(OVERRIDES.replaceFirst("(?m)^num\\.partitions=3$", "num.partitions=5"));
    KafkaPod leader = pods.stream().filter(KafkaPod::isLeader).findFirst().orElseThrow();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () ->
                assertThat(leader.payload())
                    .contains("broker 1 not restarted yet: stopping broker 1 would leave")
                    .containsPattern("it-defaults-\\d ISR \\[[01], [01]\\] \\(min.insync.replicas 2\\)"));
    long refused = System.currentTimeMillis();
    System.out.println("roll gate: " + leader.payload().replaceAll(".*\"roll\":\"([^\"]*)\".*", "$1").strip());
    assertThat(waiting.brokerPid()).isEqualTo(pid);
    assertThat(waiting.payload()).contains("restart_pending");

    // started in the background: supervisorctl returns only after the program's startsecs, by
    // which time a fast machine may have the broker back in sync; sampling begins at once
    ExecResult started = down.exec("sh", "-c", "supervisorctl start kafka > /tmp/start-kafka.out 2>&1 &");
    assertThat(started.getExitCode()).as(started.getStderr()).isZero();
    // when (epoch ms) a sample of every partition's ISR began that found broker 2 missing from one
    List<Long> lacking = new CopyOnWriteArrayList<>();
    Runnable sample =
        () -> {
          long t = System.currentTimeMillis();
          List<String> all = isrs(observer, null);
          if (all.isEmpty() || all.stream().anyMatch(isr -> !List.of(isr.split(",")).contains("2"))) {
            lacking.add(t);
          }
        };
    sample.run();
    await()
        .atMost(Duration.ofMinutes(4))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(
            () -> {
              sample.run();
              assertThat(waiting.brokerPid()).as("broker 1 restarted").isNotIn(0L, pid);
              assertThat(waiting.payload()).doesNotContain("restart_pending");
            });
    awaitServing(waiting, Duration.ofSeconds(90));
    assertThat(waiting.restarts()).isEqualTo(restarts + 1);
    assertThat(down.exec("cat", "/tmp/start-kafka.out").getStdout()).as("supervisorctl start kafka").contains("kafka: started");
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(leader.payload()).doesNotContain("not restarted yet"));

    long began = -1;
    Matcher m = RESTART_LINE.matcher(waiting.logs());
    while (m.find()) {
      began = Instant.from(AUTOMATON_TIME.parse(m.group(1))).toEpochMilli();
    }
    assertThat(lacking).as("samples with broker 2 out of an ISR").isNotEmpty();
    long lastLacking = lacking.get(lacking.size() - 1);
    System.out.printf(
        "roll gate: broker 1 refused for %d s; its restart began %d ms after the last sample with broker 2 out of an ISR%n",
        (began - refused) / 1000, began - lastLacking);
    assertThat(began)
        .as("broker 1's restart began after the last sample (at %s) in which broker 2 was out of an ISR", Instant.ofEpochMilli(lastLacking))
        .isGreaterThan(lastLacking);
  }

  /**
   * A pod restarted with its volume ({@code docker restart}: same container, same data) keeps its
   * node.id and directory id, whatever seq the group hands it now; the voters do not change, and
   * its partitions are still on its volume.
   */
  @Test
  @Order(8)
  void aPodRestartedWithItsVolumeKeepsItsNodeIdAndItsVoter() {
    KafkaPod pod = byNodeId(1);
    Properties before = pod.meta();
    String voters = KafkaPod.voters(pods.get(0).quorumStatus()).toString();
    assertThat(pod.exec("ls", "/data/kafka/data").getStdout()).contains("it-roll-0");

    long t0 = System.nanoTime();
    pod.restart();
    await()
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(() -> assertThat(pod.unfencedBrokers()).as("serving again, every broker unfenced").containsExactly(0, 1, 2));
    System.out.printf("docker restart of a pod: serving again %d s later%n", (System.nanoTime() - t0) / 1_000_000_000);
    Properties after = pod.meta();
    assertThat(after.getProperty("node.id")).isEqualTo(before.getProperty("node.id"));
    assertThat(after.getProperty("directory.id")).isEqualTo(before.getProperty("directory.id"));
    assertThat(after.getProperty("cluster.id")).isEqualTo(before.getProperty("cluster.id"));
    String status = pods.get(0).quorumStatus();
    assertThat(KafkaPod.voters(status).toString()).isEqualTo(voters);
    assertThat(status).contains("{\"id\": 1, \"directoryId\": \"" + before.getProperty("directory.id") + "\"");
    assertThat(pod.exec("ls", "/data/kafka/data").getStdout()).contains("it-roll-0");
    assertThat(pod.payload()).doesNotContain("config_error\":\"the volume");
  }

  /** The slot in {@link #pods} that steps 9 and 10 replace, its node.id, and its lost volume's directory id. */
  private int replaced = -1;

  private int replacedId;
  private String lostDirectory;

  private static Path logs() {
    return Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs"));
  }

  private static String votersLine(String status) {
    return status.lines().filter(l -> l.startsWith("CurrentVoters:")).findFirst().orElse("");
  }

  /** The payload's {@code config_error}, empty when none. */
  private static String configError(KafkaPod pod) {
    Matcher m = Pattern.compile("\"config_error\":\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(pod.payload());
    return m.find() ? m.group(1) : "";
  }

  /** A pod that neither leads the group nor is the active controller: the one to replace. */
  private void pickReplaced() {
    Matcher active = Pattern.compile("LeaderId:\\s+(\\d+)").matcher(pods.get(0).quorumStatus());
    assertThat(active.find()).as("the quorum's leader").isTrue();
    for (int i = 0; i < pods.size(); i++) {
      KafkaPod p = pods.get(i);
      String id = p.meta().getProperty("node.id");
      if (!p.isLeader() && !id.equals(active.group(1))) {
        replaced = i;
        replacedId = Integer.parseInt(id);
        lostDirectory = p.meta().getProperty("directory.id");
        return;
      }
    }
    throw new AssertionError("every pod leads the group or the quorum");
  }

  /** A fresh Kafka cluster id: 16 random bytes, base64url without padding, as Kafka's Uuid prints one. */
  private static String randomClusterId() {
    while (true) {
      java.util.UUID u = java.util.UUID.randomUUID();
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
      String id = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b.array());
      if (!id.startsWith("-")) {
        return id;
      }
    }
  }

  /**
   * A pod that comes back with a volume of another cluster (formatted by Kafka's own tool, with
   * this pod's node.id, for another cluster id) is refused: the config_error in its payload names
   * both cluster ids, its broker does not start, and its volume is as it came, file for file,
   * with nothing written beside it. The cluster goes on with the two others, and the quorum is
   * not changed for it.
   */
  @Test
  @Order(9)
  void aVolumeOfAnotherClusterIsRefusedUntouchedAndItsBrokerDoesNotStart() {
    pickReplaced();
    KafkaPod old = pods.get(replaced);
    String ours = old.meta().getProperty("cluster.id");
    String theirs = randomClusterId();
    // made aside from the pod's own volume, with its own server.properties (so its node.id)
    ExecResult formatted =
        old.exec(
            "sh", "-c",
            "rm -rf /tmp/foreign && sed 's#^log.dirs=.*#log.dirs=/tmp/foreign/data#' /data/kafka/server.properties > /tmp/foreign.properties"
                + " && kafka-storage.sh format --cluster-id \"$1\" --config /tmp/foreign.properties --no-initial-controllers >&2"
                + " && cd /tmp/foreign/data && find . -type f | sort",
            "format", theirs);
    assertThat(formatted.getExitCode()).as(formatted.getStderr()).isZero();
    Map<String, byte[]> volume = new TreeMap<>();
    formatted.getStdout().lines().map(l -> l.substring(2)).forEach(f -> volume.put("/data/kafka/data/" + f, old.read("/tmp/foreign/data/" + f)));
    assertThat(volume).containsKey("/data/kafka/data/meta.properties");

    old.stopAndRemove(logs().resolve("before-foreign-volume"));
    KafkaPod foreign = new KafkaPod(old.name, network, OVERRIDES).withVolumeFiles(volume);
    pods.set(replaced, foreign);
    long t0 = System.nanoTime();
    foreign.start();
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> assertThat(foreign.payload()).contains("belongs to Kafka cluster " + theirs + ", this group's is " + ours + ": not starting, the volume is left untouched"));
    System.out.printf("a volume of another cluster: refused %d s after its pod started%n", (System.nanoTime() - t0) / 1_000_000_000);
    assertThat(foreign.payload()).contains("\"started\":false");
    assertThat(foreign.brokerPid()).as("its broker").isZero();
    assertThat(foreign.exec("sh", "-c", "cd /data/kafka/data && find . -type f | sort").getStdout()).isEqualTo(formatted.getStdout());
    volume.forEach((path, bytes) -> assertThat(foreign.read(path)).as(path).isEqualTo(bytes));
    assertThat(foreign.exec("test", "-e", "/data/kafka/server.properties").getExitCode()).as("a server.properties written").isNotZero();

    KafkaPod other = pods.get((replaced + 1) % pods.size());
    Set<Integer> others = new TreeSet<>(Set.of(0, 1, 2));
    others.remove(replacedId);
    assertThat(other.unfencedBrokers()).as("the brokers serving").containsExactlyElementsOf(others);
    String status = other.quorumStatus();
    assertThat(KafkaPod.voters(status)).containsExactly(0, 1, 2);
    assertThat(status).as("its voter entry, still that of its lost volume").contains("{\"id\": " + replacedId + ", \"directoryId\": \"" + lostDirectory + "\"");
  }

  /**
   * A controller that comes back with an empty volume (its claim lost; same pod name, so the same
   * seq and node.id) is formatted as a new member of the cluster, catches up as an observer, and
   * replaces its voter entry: the old (id, directory) is gone from the quorum, the new one is a
   * voter, and its broker is back in the ISR of every partition it hosts.
   */
  @Test
  @Order(10)
  void aControllerBackWithAnEmptyVolumeRejoinsAndItsOldVoterEntryIsGone() {
    if (replaced < 0) {
      pickReplaced();
    }
    KafkaPod before = pods.get(replaced);
    KafkaPod other = pods.get((replaced + 1) % pods.size());
    String ours = other.meta().getProperty("cluster.id");
    before.stopAndRemove(logs().resolve("before-empty-volume"));
    KafkaPod empty = new KafkaPod(before.name, network, OVERRIDES);
    pods.set(replaced, empty);
    long t0 = System.nanoTime();
    empty.start();
    int id = replacedId;
    await()
        .atMost(Duration.ofMinutes(6))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(
            () -> {
              String dir = empty.meta().getProperty("directory.id");
              assertThat(dir).as("its new volume's directory id").isNotNull().isNotEqualTo(lostDirectory);
              String status = other.quorumStatus();
              assertThat(KafkaPod.voters(status)).containsExactly(0, 1, 2);
              // (the quorum's leader may still list the lost directory among its observers, the
              // replicas that fetched from it lately, for a few minutes: it is no voter)
              assertThat(votersLine(status)).contains("{\"id\": " + id + ", \"directoryId\": \"" + dir + "\"").doesNotContain(lostDirectory);
              assertThat(other.unfencedBrokers()).as("every broker unfenced").containsExactly(0, 1, 2);
            });
    System.out.printf("a controller with an empty volume: a voter again %d s after its pod started%n", (System.nanoTime() - t0) / 1_000_000_000);
    Properties meta = empty.meta();
    assertThat(meta.getProperty("node.id")).isEqualTo(String.valueOf(id));
    assertThat(meta.getProperty("cluster.id")).isEqualTo(ours);
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(() -> assertThat(isrs(other, "it-defaults")).hasSize(3).allSatisfy(isr -> assertThat(List.of(isr.split(","))).contains(String.valueOf(id))));
    System.out.printf("a controller with an empty volume: back in every it-defaults ISR %d s after its pod started%n", (System.nanoTime() - t0) / 1_000_000_000);
    assertThat(empty.exec("ls", "/data/kafka/data").getStdout()).contains("it-defaults-0");
    assertThat(empty.payload()).doesNotContain("config_error\":\"the volume");
  }

  /**
   * The failsafe: etcd stopped for 3 × TTL, then started, while an idempotent acks=all producer
   * writes. Through the outage no callback runs and no configure is sent; no broker restarts; every
   * pod's {@code server.properties} stays byte-identical through the outage and for TTL + damper +
   * 10 s after every pod registered again; no send fails and every acknowledged record is read
   * back exactly once.
   */
  @Test
  @Order(11)
  void etcdStoppedForThreeTtlsUnderAcksAllLoadChangesNothing() throws Exception {
    if (client == null) {
      client = KafkaPod.client(network);
    }
    GenericContainer<?> c = client;
    ExecResult created =
        pods.get(0).exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--create", "--topic", "it-outage", "--partitions", "3", "--replication-factor", "3");
    assertThat(created.getExitCode()).as(created.getStderr()).isZero();
    startLoad(c, "it-outage", "/tmp/outage");
    Map<String, Long> pids = new HashMap<>();
    Map<String, Integer> restarts = new HashMap<>();
    Map<String, String> configs = new HashMap<>();
    for (KafkaPod p : pods) {
      pids.put(p.name, p.brokerPid());
      restarts.put(p.name, p.restarts());
      configs.put(p.name, serverProperties(p));
    }
    long callbacks = countInLogs(PodContainers.CALLBACK_STARTED);
    long configures = countInLogs(PodContainers.CONFIGURE_STARTED);
    Callable<Boolean> unchanged =
        () -> pods.stream().allMatch(p -> p.brokerPid() == pids.get(p.name) && serverProperties(p).equals(configs.get(p.name)));

    String id = etcd.getContainerId();
    DockerNetworks.docker().stopContainerCmd(id).withTimeout(10).exec();
    long t0 = System.nanoTime();
    Duration outage = Duration.ofSeconds(3L * KafkaPod.TTL);
    await().during(outage).atMost(outage.plusSeconds(15)).pollInterval(Duration.ofSeconds(1)).until(unchanged);
    assertThat(countInLogs(PodContainers.CALLBACK_STARTED)).as("callbacks started while etcd was down").isEqualTo(callbacks);
    assertThat(countInLogs(PodContainers.CONFIGURE_STARTED)).as("configures sent while etcd was down").isEqualTo(configures);
    DockerNetworks.docker().startContainerCmd(id).exec();
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              String keys = etcd.execInContainer("etcdctl", "get", "--prefix", "--keys-only", "/kontrol/default/kafka/pods/").getStdout();
              for (KafkaPod p : pods) {
                assertThat(keys).as("registered again").contains("/kontrol/default/kafka/pods/" + p.name);
              }
              assertThat(pods.stream().filter(KafkaPod::isLeader)).as("one group leader").hasSize(1);
            });
    System.out.printf("etcd stopped for %d s: every pod registered again %d ms after the stop%n", outage.toSeconds(), (System.nanoTime() - t0) / 1_000_000);
    Duration after = Duration.ofSeconds(KafkaPod.TTL + KafkaPod.DAMPER + 10);
    await().during(after).atMost(after.plusSeconds(15)).pollInterval(Duration.ofSeconds(1)).until(unchanged);
    for (KafkaPod p : pods) {
      assertThat(p.restarts()).as(p.name + " restarts").isEqualTo(restarts.get(p.name));
    }
    stopLoadAndCheck(c, "/tmp/outage", "etcd outage under load");
  }

  /**
   * Starts {@link RollLoad} in the client container {@code c}: an idempotent acks=all producer of
   * 100 records a second to {@code topic}, its files in {@code dir}; returns once it has 100
   * records acknowledged.
   */
  private static void startLoad(GenericContainer<?> c, String topic, String dir) throws Exception {
    c.execInContainer(
        "sh", "-c",
        "mkdir -p " + dir + " && nohup java -Xmx192m -cp '/it:/opt/kafka/libs/*' io.kontrol.images.RollLoad"
            + " kafka-0:9092,kafka-1:9092,kafka-2:9092 " + topic + " 100 " + dir + " > " + dir + "/out 2>&1 &");
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(() -> assertThat(c.execInContainer("cat", dir + "/out").getStdout()).containsPattern("acked [1-9]\\d{2,}"));
  }

  /**
   * Stops the load of {@code dir} and checks its verdict: no send failed, and every acknowledged
   * record (more than 1,000) was read back exactly once.
   */
  private static void stopLoadAndCheck(GenericContainer<?> c, String dir, String what) throws Exception {
    c.execInContainer("touch", dir + "/stop");
    String out =
        await()
            .atMost(Duration.ofMinutes(3))
            .pollInterval(Duration.ofSeconds(2))
            .until(() -> c.execInContainer("cat", dir + "/out").getStdout(), o -> o.contains("acked="));
    String verdict = out.lines().filter(l -> l.startsWith("acked=")).findFirst().orElseThrow();
    System.out.println(what + ": " + verdict);
    assertThat(verdict).contains(" failed=0 ").contains(" duplicates=0 ").contains(" missing=0 ");
    Matcher acked = Pattern.compile("acked=(\\d+) .* read=(\\d+) ").matcher(verdict);
    assertThat(acked.find()).isTrue();
    assertThat(Long.parseLong(acked.group(1))).as("acknowledged records").isGreaterThan(1000);
    assertThat(acked.group(2)).as("read back").isEqualTo(acked.group(1));
  }

  /** How many times {@code line} occurs in the pods' logs together. */
  private long countInLogs(Pattern line) {
    return pods.stream().mapToLong(p -> PodContainers.count(line, p.logs())).sum();
  }

  private static String serverProperties(KafkaPod p) {
    return new String(p.read("/data/kafka/server.properties"), StandardCharsets.UTF_8);
  }

  /**
   * etcd replaced by an empty one at the same address (its data lost): the pods register again,
   * in whatever order and after a pod that is gone, so with seqs that differ from their node.ids.
   * The volumes stay authoritative: no broker restarts, every node.id and the cluster id are the
   * volumes', the quorum keeps its three voters, a pod whose new seq differs from its node.id says
   * so in its payload, and no pod gets a configuration error it did not have before.
   */
  @Test
  @Order(12)
  void etcdWipedTheBrokersKeepTheirIdsAndNoneRestarts() throws Exception {
    Map<String, Long> pids = new HashMap<>();
    Map<String, Properties> metas = new HashMap<>();
    Map<String, String> configErrors = new HashMap<>();
    for (KafkaPod p : pods) {
      pids.put(p.name, p.brokerPid());
      metas.put(p.name, p.meta());
      configErrors.put(p.name, configError(p));
    }
    String address = DockerNetworks.ip(etcd.getContainerId(), network);
    DockerNetworks.docker().removeContainerCmd(etcd.getContainerId()).withForce(true).exec();
    long t0 = System.nanoTime();
    etcd = LocalImages.etcd(network);
    etcd.start();
    // a pod that registered once and is gone holds the first seq of the new etcd: the pods
    // that register after it get seqs one higher than their node.ids
    ExecResult seeded = etcd.execInContainer("etcdctl", "put", "/kontrol/default/kafka/seq/kafka-gone", "");
    assertThat(seeded.getExitCode()).as(seeded.getStderr()).isZero();
    // at the address the old one had, as a Service's address stays when its pod is replaced
    DockerNetworks.cut(etcd.getContainerId(), network);
    DockerNetworks.connect(etcd.getContainerId(), network, address, List.of("etcd"));
    Map<String, Integer> seqs = new HashMap<>();
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (KafkaPod p : pods) {
                seqs.put(p.name, p.seq());
              }
              assertThat(Set.copyOf(seqs.values())).as("one seq per pod").hasSize(pods.size());
              assertThat(pods.stream().filter(KafkaPod::isLeader)).as("one group leader").hasSize(1);
              for (KafkaPod p : pods) {
                String nodeId = metas.get(p.name).getProperty("node.id");
                String payload = p.payload();
                if (String.valueOf(seqs.get(p.name)).equals(nodeId)) {
                  assertThat(payload).as(p.name + " payload").doesNotContain("seq_mismatch");
                } else {
                  assertThat(payload).as(p.name + " payload").contains("\"seq_mismatch\":\"node.id " + nodeId + " from the volume, seq " + seqs.get(p.name));
                }
              }
            });
    System.out.printf("etcd wiped: the pods registered again %d ms after, seqs %s%n", (System.nanoTime() - t0) / 1_000_000, new TreeMap<>(seqs));
    // the group had every chance to act: a TTL, the damper and a margin with nothing changing
    await()
        .during(Duration.ofSeconds(KafkaPod.TTL + KafkaPod.DAMPER + 10))
        .atMost(Duration.ofSeconds(KafkaPod.TTL + KafkaPod.DAMPER + 40))
        .pollInterval(Duration.ofSeconds(2))
        .until(() -> pods.stream().allMatch(p -> p.brokerPid() == pids.get(p.name)));
    for (KafkaPod p : pods) {
      assertThat(p.brokerPid()).as(p.name + " broker not restarted").isEqualTo(pids.get(p.name));
      assertThat(p.meta()).as(p.name + " volume").isEqualTo(metas.get(p.name));
      // the overrides' managed key only, as before: no refused id, no refused volume
      assertThat(configError(p)).as(p.name + " config_error").isEqualTo(configErrors.get(p.name));
    }
    KafkaPod any = pods.get(0);
    assertThat(KafkaPod.voters(any.quorumStatus())).containsExactly(0, 1, 2);
    assertThat(any.unfencedBrokers()).as("every broker unfenced").containsExactly(0, 1, 2);
    ExecResult created =
        any.exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--create", "--topic", "it-after-wipe", "--replication-factor", "3");
    assertThat(created.getExitCode()).as("a topic created after the wipe: " + created.getStderr()).isZero();
  }
}
