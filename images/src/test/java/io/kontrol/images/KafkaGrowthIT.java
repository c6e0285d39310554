package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;

/**
 * A Kafka cluster that grows from one pod to three, as a StatefulSet scaled up (or started with
 * its default ordered pod management) does: the lone first pod forms a one-voter cluster once the
 * leader's formation wait is over, a topic is created and written on it, then two more pods join
 * as observers and are made voters one at a time; the first broker is never restarted, and the
 * topic and its records are all still there.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KafkaGrowthIT {

  private static final int RECORDS = 100;

  private Network network;
  private GenericContainer<?> etcd;
  private final List<KafkaPod> pods = new ArrayList<>();

  @BeforeAll
  void startEtcd() {
    LocalImages.require(LocalImages.KAFKA, LocalImages.ETCD);
    network = Network.newNetwork();
    etcd = LocalImages.etcd(network);
    etcd.start();
  }

  @AfterAll
  void stopAll() {
    for (KafkaPod pod : pods) {
      pod.saveLogs(java.nio.file.Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs"), "growth"));
      pod.close();
    }
    if (etcd != null) {
      etcd.stop();
    }
    if (network != null) {
      network.close();
    }
  }

  private KafkaPod pod(int i) {
    KafkaPod p = new KafkaPod("kafka-" + i, network, KafkaClusterIT.OVERRIDES);
    pods.add(p);
    return p;
  }

  @Test
  void aClusterGrowsFromOnePodToThreeAndKeepsATopicOfTheFirst() throws Exception {
    KafkaPod first = pod(0).start();
    long t0 = System.nanoTime();
    await()
        .atMost(Duration.ofMinutes(4))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(
            () -> {
              assertThat(KafkaPod.voters(first.quorumStatus())).as("voters").containsExactly(0);
              assertThat(first.unfencedBrokers()).as("unfenced brokers").containsExactly(0);
            });
    System.out.printf("a lone pod formed a 1-voter cluster %d s after its container started%n", (System.nanoTime() - t0) / 1_000_000_000);
    Properties firstMeta = first.meta();

    // one replica, so one broker can take acks=all writes
    ExecResult created =
        first.exec(
            "kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--create", "--topic", "it-grow",
            "--partitions", "1", "--replication-factor", "1", "--config", "min.insync.replicas=1");
    assertThat(created.getExitCode()).as(created.getStderr()).isZero();
    ExecResult produced =
        first.exec("sh", "-c", "seq 1 " + RECORDS + " | kafka-console-producer.sh --bootstrap-server localhost:9092 --topic it-grow");
    assertThat(produced.getExitCode()).as(produced.getStderr()).isZero();
    long pid = first.brokerPid();

    // two more pods at once, as a scale-up to 3 replicas with parallel pod management
    KafkaPod second = pod(1);
    KafkaPod third = pod(2);
    ExecutorService starter = Executors.newFixedThreadPool(2, r -> new Thread(r, "kafka-growth-start"));
    try {
      CompletableFuture.allOf(CompletableFuture.runAsync(second::start, starter), CompletableFuture.runAsync(third::start, starter))
          .get(5, TimeUnit.MINUTES);
    } finally {
      starter.shutdownNow();
    }
    long t1 = System.nanoTime();
    await()
        .atMost(Duration.ofMinutes(6))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(
            () -> {
              assertThat(KafkaPod.voters(first.quorumStatus())).as("voters").containsExactly(0, 1, 2);
              assertThat(first.unfencedBrokers()).as("unfenced brokers").containsExactly(0, 1, 2);
            });
    System.out.printf("2 more pods: 3 voters and 3 brokers %d s after their containers started%n", (System.nanoTime() - t1) / 1_000_000_000);

    String status = first.quorumStatus();
    for (KafkaPod p : pods) {
      Properties meta = p.meta();
      assertThat(meta.getProperty("node.id")).as(p.name + " node.id").isEqualTo(String.valueOf(p.seq()));
      assertThat(meta.getProperty("cluster.id")).as(p.name + " cluster.id").isEqualTo(firstMeta.getProperty("cluster.id"));
      assertThat(status).contains("{\"id\": " + meta.getProperty("node.id") + ", \"directoryId\": \"" + meta.getProperty("directory.id") + "\"");
    }
    assertThat(first.meta().getProperty("directory.id")).isEqualTo(firstMeta.getProperty("directory.id"));
    assertThat(first.brokerPid()).as("the first broker, never restarted while the cluster grew").isEqualTo(pid);

    // the topic of the first pod, read through the third: every record, in order
    String topic = third.exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--describe", "--topic", "it-grow").getStdout();
    assertThat(topic).contains("PartitionCount: 1").containsPattern("Leader: 0\\s+Replicas: 0\\s+Isr: 0");
    ExecResult read =
        third.exec(
            "kafka-console-consumer.sh", "--bootstrap-server", "localhost:9092", "--topic", "it-grow", "--from-beginning",
            "--max-messages", String.valueOf(RECORDS), "--timeout-ms", "60000");
    assertThat(read.getStdout().lines().toList())
        .as(read.getStderr())
        .isEqualTo(IntStream.rangeClosed(1, RECORDS).mapToObj(String::valueOf).collect(Collectors.toList()));
  }
}
