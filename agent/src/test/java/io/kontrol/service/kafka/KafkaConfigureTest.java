package io.kontrol.service.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The pod side of configure, with a recording broker in place of supervisord and kafka-storage. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class KafkaConfigureTest {

  @TempDir Path dir;

  private Path data;
  private Path config;
  private PayloadFile payload;
  private final List<String> lines = new ArrayList<>();
  private final FakeBroker broker = new FakeBroker();

  /** Records calls; "formats" by writing meta.properties as kafka-storage would. */
  final class FakeBroker implements KafkaConfigure.Broker {
    boolean running;
    int starts;
    List<String> formatArgs;
    /** The broker's dynamic per-broker configuration; keys in readOnly are refused at run time. */
    final Map<String, String> dynamic = new TreeMap<>();
    final Set<String> readOnly = Set.of("num.network.threads");

    @Override
    public LiveConfig live(int nodeId) {
      return new LiveConfig() {
        @Override
        public Map<String, String> dynamic() {
          return new TreeMap<>(dynamic);
        }

        @Override
        public List<String> apply(Map<String, String> set, Set<String> delete) {
          List<String> refused = new ArrayList<>();
          set.forEach((k, v) -> {
            if (readOnly.contains(k)) {
              refused.add(k);
            } else {
              dynamic.put(k, v);
            }
          });
          delete.forEach(dynamic::remove);
          return refused;
        }

        @Override
        public void close() {}
      };
    }

    @Override
    public boolean running() {
      return running;
    }

    @Override
    public void start() throws IOException {
      starts++;
      running = true;
      // as kafka-server-start does
      Files.copy(config, config.resolveSibling("server.properties.started"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void format(List<String> args) throws IOException {
      formatArgs = args;
      String cluster = args.get(args.indexOf("--cluster-id") + 1);
      Files.createDirectories(data);
      Files.writeString(data.resolve("meta.properties"), "version=1\ncluster.id=" + cluster + "\nnode.id=" + nodeIdIn(config) + "\ndirectory.id=DIR\n");
    }
  }

  private static String nodeIdIn(Path config) throws IOException {
    return Files.readAllLines(config).stream().filter(l -> l.startsWith("node.id=")).findFirst().orElseThrow().substring(8);
  }

  @BeforeEach
  void paths() throws IOException {
    data = dir.resolve("kafka/data");
    config = dir.resolve("kafka/server.properties");
    payload = new PayloadFile(dir.resolve("payload.json"));
    Files.copy(Path.of("../images/kafka/defaults.properties"), dir.resolve("defaults.properties"));
  }

  private KafkaConfigure configure() {
    return new KafkaConfigure(
        new KafkaConfigure.Paths(data, config, dir.resolve("defaults.properties")), payload, broker, "kafka-1.kafka.ns.svc", lines::add);
  }

  private static String input(int node, boolean controller, String initial) {
    return new MemberInput("CLUSTER", node, node, controller, List.of("kafka-0:9093", "kafka-1:9093"), initial, null).toJson();
  }

  @Test
  void anEmptyVolumeIsFormattedAsAnInitialControllerAndStarted() throws IOException {
    int code = configure().configure(input(1, true, "0@kafka-0:9093:A,1@kafka-1:9093:B"), "num.partitions=3\nretention.ms=1000");

    assertThat(code).isZero();
    assertThat(broker.formatArgs)
        .containsSubsequence("--cluster-id", "CLUSTER")
        .containsSubsequence("--initial-controllers", "0@kafka-0:9093:A,1@kafka-1:9093:B");
    assertThat(broker.starts).isEqualTo(1);
    String props = Files.readString(config);
    assertThat(props)
        .contains("node.id=1\n", "process.roles=broker,controller\n", "num.partitions=3\n", "log.retention.ms=1000\n",
            "min.insync.replicas=2\n", "unclean.leader.election.enable=false\n",
            "advertised.listeners=PLAINTEXT://kafka-1.kafka.ns.svc:9092,CONTROLLER://kafka-1.kafka.ns.svc:9093\n",
            "controller.quorum.bootstrap.servers=kafka-0:9093,kafka-1:9093\n", "log.dirs=" + data + "\n");
    JsonNode k = payload.read().get("kafka");
    assertThat(k.get("formatted").asBoolean()).isTrue();
    assertThat(k.get("cluster_id").asText()).isEqualTo("CLUSTER");
    assertThat(k.get("node_id").asInt()).isEqualTo(1);
    assertThat(k.get("started").asBoolean()).isTrue();
    assertThat(payload.read().has("config_error")).isFalse();
  }

  @Test
  void aBrokerJoinsWithNoInitialControllers() throws IOException {
    assertThat(configure().configure(input(4, false, null), null)).isZero();
    assertThat(broker.formatArgs).contains("--no-initial-controllers").doesNotContain("--initial-controllers");
    assertThat(Files.readString(config)).contains("process.roles=broker\n", "listeners=PLAINTEXT://0.0.0.0:9092\n");
  }

  @Test
  void aVolumeOfAnotherClusterIsRefusedUntouchedAndTheBrokerNotStarted() throws IOException {
    Files.createDirectories(data);
    String meta = "version=1\ncluster.id=OTHER\nnode.id=1\ndirectory.id=D\n";
    Files.writeString(data.resolve("meta.properties"), meta);
    Files.writeString(data.resolve("00000000000000000000.log"), "records");

    assertThat(configure().configure(input(1, true, null), null)).isZero();

    assertThat(broker.starts).isZero();
    assertThat(broker.formatArgs).isNull();
    assertThat(Files.readString(data.resolve("meta.properties"))).isEqualTo(meta);
    assertThat(Files.readString(data.resolve("00000000000000000000.log"))).isEqualTo("records");
    assertThat(payload.read().get("config_error").asText()).contains("belongs to Kafka cluster OTHER", "CLUSTER", "left untouched");
    assertThat(payload.read().get("kafka").get("started").asBoolean()).isFalse();
  }

  @Test
  void aVolumeWithAnotherNodeIdIsRefused() throws IOException {
    Files.createDirectories(data);
    Files.writeString(data.resolve("meta.properties"), "version=1\ncluster.id=CLUSTER\nnode.id=2\ndirectory.id=D\n");
    assertThat(configure().configure(input(1, true, null), null)).isZero();
    assertThat(broker.starts).isZero();
    assertThat(payload.read().get("config_error").asText()).contains("holds node.id 2, the leader expects 1");
  }

  @Test
  void aManagedOverrideIsAConfigErrorAndTheOtherLinesApply() throws IOException {
    assertThat(configure().configure(input(0, true, "0@kafka-0:9093:A"), "node.id=9\nnum.partitions=7")).isZero();
    assertThat(Files.readString(config)).contains("node.id=0\n", "num.partitions=7\n").doesNotContain("node.id=9");
    assertThat(payload.read().get("config_error").asText()).contains("line 1", "'node.id' is set by the pod itself");
    assertThat(broker.starts).isEqualTo(1);

    // fixed: the error goes away
    assertThat(configure().configure(input(0, true, null), "num.partitions=7")).isZero();
    assertThat(payload.read().has("config_error")).isFalse();
  }

  @Test
  void aRunningBrokerIsNotStartedAgainAndAFormattedVolumeNotReformatted() throws IOException {
    assertThat(configure().configure(input(0, true, "0@kafka-0:9093:A"), null)).isZero();
    broker.formatArgs = null;
    assertThat(configure().configure(input(0, true, null), null)).isZero();
    assertThat(broker.formatArgs).isNull();
    assertThat(broker.starts).isEqualTo(1);
  }

  @Test
  void badInputChangesNothing() throws IOException {
    assertThat(configure().configure("", null)).isEqualTo(KafkaConfigure.BAD_INPUT);
    assertThat(configure().configure("{\"node_id\": 1}", null)).isEqualTo(KafkaConfigure.BAD_INPUT);
    assertThat(lines).anyMatch(l -> l.contains("no cluster_id"));
    assertThat(Files.exists(config)).isFalse();
    assertThat(broker.starts).isZero();
  }

  @Test
  void setupPublishesTheHostAndTheVolumesIdentity() throws IOException {
    assertThat(configure().publish()).isZero();
    assertThat(payload.read().get("kafka").get("host").asText()).isEqualTo("kafka-1.kafka.ns.svc");
    assertThat(payload.read().get("kafka").get("formatted").asBoolean()).isFalse();

    Files.createDirectories(data);
    Files.writeString(data.resolve("meta.properties"), "version=1\ncluster.id=C\nnode.id=5\ndirectory.id=D\n", StandardCharsets.UTF_8);
    assertThat(configure().publish()).isZero();
    JsonNode k = payload.read().get("kafka");
    assertThat(k.get("node_id").asInt()).isEqualTo(5);
    assertThat(k.get("directory_id").asText()).isEqualTo("D");
  }

  @Test
  void aRunningBrokerGetsDynamicKeysAtRunTimeAndTheRestWaitsForTheNextStart() throws IOException {
    assertThat(configure().configure(input(0, true, "0@kafka-0:9093:A"), "retention.ms=1000")).isZero();

    // changed: set at run time
    assertThat(configure().configure(input(0, true, null), "retention.ms=2000")).isZero();
    assertThat(broker.dynamic).containsExactly(Map.entry("log.retention.ms", "2000"));
    assertThat(payload.read().get("kafka").get("dynamic").get("log.retention.ms").asText()).isEqualTo("2000");

    // removed: the image's default, at run time (the broker started with 1000)
    assertThat(configure().configure(input(0, true, null), null)).isZero();
    assertThat(broker.dynamic).containsExactly(Map.entry("log.retention.ms", "259200000"));

    // back to the start value: the dynamic value goes
    assertThat(configure().configure(input(0, true, null), "retention.ms=1000")).isZero();
    assertThat(broker.dynamic).isEmpty();
    assertThat(payload.read().get("kafka").has("dynamic")).isFalse();

    // read-only: waits for the next start, and says so; the broker is not restarted
    assertThat(configure().configure(input(0, true, null), "retention.ms=1000\nnum.network.threads=4")).isZero();
    assertThat(payload.read().get("kafka").get("restart_pending").toString()).isEqualTo("[\"num.network.threads\"]");
    assertThat(broker.starts).isEqualTo(1);
    assertThat(lines).anyMatch(l -> l.contains("at the next start (read-only or removed): [num.network.threads]"));
  }

  @Test
  void aKeyTheBrokerStartedWithThatIsGoneWaitsForTheNextStart() throws IOException {
    assertThat(configure().configure(input(0, true, "0@kafka-0:9093:A"), "log.cleaner.threads=2")).isZero();
    assertThat(configure().configure(input(0, true, null), null)).isZero();
    assertThat(payload.read().get("kafka").get("restart_pending").toString()).contains("log.cleaner.threads");
    assertThat(broker.dynamic).isEmpty();
  }
}
