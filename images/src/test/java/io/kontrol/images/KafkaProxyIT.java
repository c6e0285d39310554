package io.kontrol.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.kontrol.proxy.pixy.KafkaPixyGrpc;
import io.kontrol.proxy.pixy.ListTopicRq;
import io.kontrol.proxy.pixy.ListTopicRs;
import io.kontrol.proxy.pixy.ProdRq;
import io.kontrol.proxy.pixy.ProdRs;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
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
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * The proxy kontrol/kafka bundles (Pixy's API): one single-node pod (one controller, replication
 * factor 1) and an etcd on a Docker network. The proxy answers before the broker does, then
 * produces through HTTP (19092) and gRPC (19091) to the pod's own broker.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(OrderAnnotation.class)
class KafkaProxyIT {

  /** One broker: every replication factor and ISR minimum 1, small internal topics. */
  static final String OVERRIDES =
      String.join(
          "\n",
          "default.replication.factor=1",
          "min.insync.replicas=1",
          "offsets.topic.replication.factor=1",
          "offsets.topic.num.partitions=1",
          "transaction.state.log.replication.factor=1",
          "transaction.state.log.min.isr=1",
          "transaction.state.log.num.partitions=1",
          "num.partitions=1",
          "group.initial.rebalance.delay.ms=0");

  private Network network;
  private GenericContainer<?> etcd;
  private GenericContainer<?> kafka;
  private ManagedChannel channel;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  @SuppressWarnings("resource")
  void startPod() {
    LocalImages.require(LocalImages.KAFKA, LocalImages.ETCD);
    network = Network.newNetwork();
    etcd = LocalImages.etcd(network);
    etcd.start();
    String annotations =
        "{\"kafka.unity3d.com/controllers\": \"1\", \"kafka.unity3d.com/overrides\": \""
            + OVERRIDES.replace("\n", "\\n") + "\"}";
    kafka =
        new GenericContainer<>(LocalImages.KAFKA)
            .withNetwork(network)
            .withNetworkAliases("kafka-0")
            .withCreateContainerCmdModifier(
                cmd -> {
                  cmd.withHostName("kafka-0").withName("kontrol-it-kafka-0-" + System.nanoTime());
                  cmd.getHostConfig().withMemory(900L * 1024 * 1024);
                })
            .withEnv(
                Map.of(
                    "KONTROL_ETCD", "etcd:2379",
                    "KONTROL_LABELS", "{\"app\":\"kafka\",\"role\":\"broker\"}",
                    "KONTROL_ANNOTATIONS", annotations,
                    "KONTROL_TTL", "5",
                    "KONTROL_DAMPER", "2",
                    "KONTROL_FOVER", "5",
                    "KAFKA_HEAP_OPTS", "-Xms256m -Xmx320m",
                    "AWS_EC2_METADATA_DISABLED", "true"))
            .withExposedPorts(8000, 19092, 19091)
            .waitingFor(Wait.forListeningPorts(8000).withStartupTimeout(Duration.ofSeconds(120)));
    kafka.start();
    channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", kafka.getMappedPort(19091)).usePlaintext().build();
  }

  @AfterAll
  void stopAll() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (kafka != null) {
      saveLogs();
      kafka.stop();
    }
    if (etcd != null) {
      etcd.stop();
    }
    if (network != null) {
      network.close();
    }
  }

  private void saveLogs() {
    PodContainers.saveLogs(kafka, "kafka-proxy-it", Path.of(System.getProperty("kontrol.images.logs", "target/pod-logs")));
  }

  private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
    return http.send(request.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + kafka.getMappedPort(19092) + pathAndQuery);
  }

  private KafkaPixyGrpc.KafkaPixyBlockingStub grpc() {
    return KafkaPixyGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  @Test
  @Order(1)
  void proxyRunsUnderSupervisordAndAnswersPing() {
    await("the proxy's /_ping on 19092")
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions()
        .untilAsserted(() -> {
          HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/_ping")).GET());
          assertThat(r.statusCode()).isEqualTo(200);
        });
    // RUNNING once up for the program's startsecs
    await("supervisord's kafka-proxy RUNNING")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(() -> assertThat(exec("supervisorctl", "status", "kafka-proxy").getStdout()).contains("RUNNING"));
    // the launcher's sidecar flags, as the process runs them
    assertThat(exec("sh", "-c", "ps -o user=,args= -C java | grep kontrol-proxy.jar").getStdout())
        .startsWith("kontrol")
        .contains("-XX:+UseSerialGC", "-Xmx256m", "-XX:MaxMetaspaceSize=128m", "--kafkaPeers 127.0.0.1:9092");
  }

  @Test
  @Order(2)
  void syncProduceOverHttpOnceTheBrokerServes() {
    await("topic t on the pod's broker")
        .atMost(Duration.ofMinutes(4))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(() -> {
          ExecResult r =
              exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--create", "--if-not-exists",
                  "--topic", "t", "--partitions", "1", "--replication-factor", "1");
          assertThat(r.getExitCode()).as(r.getStdout() + r.getStderr()).isZero();
        });
    await("a sync produce through the proxy's HTTP API")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(2))
        .ignoreExceptions()
        .untilAsserted(() -> {
          HttpResponse<String> r =
              send(HttpRequest.newBuilder(uri("/topics/t/messages?sync&key=k"))
                  .header("Content-Type", "text/plain")
                  .POST(HttpRequest.BodyPublishers.ofString("hello over http")));
          assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
          assertThat(r.body().replaceAll("\\s", "")).matches("\\{\"partition\":0,\"offset\":\\d+}");
        });
  }

  @Test
  @Order(3)
  void produceAndListTopicsOverGrpc() {
    ProdRs rs =
        grpc().produce(ProdRq.newBuilder().setTopic("t").setKeyValue(ByteString.copyFromUtf8("g"))
            .setMessage(ByteString.copyFromUtf8("hello over grpc")).build());
    assertThat(rs.getPartition()).isZero();
    assertThat(rs.getOffset()).isPositive(); // after the HTTP message at offset 0
    ListTopicRs topics = grpc().listTopics(ListTopicRq.newBuilder().setWithPartitions(true).build());
    assertThat(topics.getTopicsMap()).containsKey("t");
    // both messages are in the broker's log, read by the image's own consumer
    ExecResult read =
        exec("kafka-console-consumer.sh", "--bootstrap-server", "localhost:9092", "--topic", "t",
            "--from-beginning", "--max-messages", "2", "--timeout-ms", "60000");
    assertThat(read.getStdout()).contains("hello over http", "hello over grpc");
  }

  private ExecResult exec(String... command) {
    return PodContainers.exec(kafka, "kafka", command);
  }
}
