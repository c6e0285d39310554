package io.kontrol.images;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.Transferable;
import org.testcontainers.utility.MountableFile;

/**
 * One Kafka pod: a kontrol/kafka container whose identity is given as KONTROL_* variables, its
 * host name resolvable on the test's Docker network (as a StatefulSet pod's DNS name is). Clients
 * run inside the containers (the image's tools), where those names resolve.
 */
final class KafkaPod implements AutoCloseable {

  static final int TTL = 5;
  static final int DAMPER = 2;
  static final int FOVER = 5;

  private static final Pattern VOTER_ID = Pattern.compile("\\{\"id\": (\\d+), \"directoryId\": \"([^\"]+)\"");

  final String name;
  private final GenericContainer<?> container;

  @SuppressWarnings("resource")
  KafkaPod(String name, Network network, String overrides) {
    this.name = name;
    String annotations = "{\"kafka.unity3d.com/overrides\": " + quote(overrides) + "}";
    this.container =
        new GenericContainer<>(LocalImages.KAFKA)
            .withNetwork(network)
            .withNetworkAliases(name)
            .withCreateContainerCmdModifier(
                cmd -> {
                  cmd.withHostName(name).withName("kontrol-it-" + name + "-" + System.nanoTime());
                  // 3 brokers, their agents and a client on a 2-core CI machine
                  cmd.getHostConfig().withMemory(900L * 1024 * 1024);
                })
            .withEnv(
                Map.of(
                    "KONTROL_ETCD", "etcd:2379",
                    "KONTROL_LABELS", "{\"app\":\"kafka\",\"role\":\"broker\"}",
                    "KONTROL_ANNOTATIONS", annotations,
                    "KONTROL_TTL", String.valueOf(TTL),
                    "KONTROL_DAMPER", String.valueOf(DAMPER),
                    "KONTROL_FOVER", String.valueOf(FOVER),
                    "KAFKA_HEAP_OPTS", "-Xms256m -Xmx320m",
                    "AWS_EC2_METADATA_DISABLED", "true"))
            .withExposedPorts(8000)
            .waitingFor(Wait.forListeningPorts(8000).withStartupTimeout(Duration.ofSeconds(120)));
  }

  /**
   * A started container of the image without its pod (no agent, no broker: {@code sleep
   * infinity}) on {@code network}, where the brokers' host names resolve, for clients: the
   * image's tools, and this module's test classes under {@code /it} ({@link RollLoad}).
   */
  @SuppressWarnings("resource")
  static GenericContainer<?> client(Network network) {
    Path classes;
    try {
      classes = Path.of(RollLoad.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    GenericContainer<?> c =
        new GenericContainer<>(LocalImages.KAFKA)
            .withNetwork(network)
            .withCopyFileToContainer(MountableFile.forHostPath(classes.resolve("io/kontrol/images")), "/it/io/kontrol/images")
            .withCreateContainerCmdModifier(
                cmd -> {
                  cmd.withEntrypoint("sleep").withCmd("infinity").withName("kontrol-it-kafka-client-" + System.nanoTime());
                  cmd.getHostConfig().withMemory(600L * 1024 * 1024);
                });
    c.start();
    return c;
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }

  /**
   * Files the pod's volume holds before its first start ({@code /data/...} path to content), as
   * a claim that comes with data: copied in before the container starts (owned by root, mode
   * 0644: readable by the pod's user, as a volume restored by another tool would be).
   */
  KafkaPod withVolumeFiles(Map<String, byte[]> files) {
    files.forEach((path, bytes) -> container.withCopyToContainer(Transferable.of(bytes, 0644), path));
    return this;
  }

  KafkaPod start() {
    container.start();
    return this;
  }

  /** The bytes of a file in this pod. */
  byte[] read(String path) {
    return container.copyFileFromContainer(path, java.io.InputStream::readAllBytes);
  }

  /** A tool of the image, run in this pod. */
  ExecResult exec(String... command) {
    return PodContainers.exec(container, name, command);
  }

  /** {@code kafka-metadata-quorum.sh describe --status} against this pod's broker. */
  String quorumStatus() {
    return exec("kafka-metadata-quorum.sh", "--bootstrap-server", "localhost:9092", "describe", "--status").getStdout();
  }

  /** The voters' ids from {@link #quorumStatus()}. */
  static TreeSet<Integer> voters(String status) {
    TreeSet<Integer> ids = new TreeSet<>();
    String line = status.lines().filter(l -> l.startsWith("CurrentVoters:")).findFirst().orElse("");
    Matcher m = VOTER_ID.matcher(line);
    while (m.find()) {
      ids.add(Integer.parseInt(m.group(1)));
    }
    return ids;
  }

  /** The ids of the brokers in the cluster metadata (unfenced), as this pod's broker lists them. */
  TreeSet<Integer> unfencedBrokers() {
    String out = exec("kafka-broker-api-versions.sh", "--bootstrap-server", "localhost:9092").getStdout();
    TreeSet<Integer> ids = new TreeSet<>();
    Matcher m = Pattern.compile("\\(id: (\\d+) rack").matcher(out);
    while (m.find()) {
      ids.add(Integer.parseInt(m.group(1)));
    }
    return ids;
  }

  /** The volume's meta.properties (empty when not formatted). */
  Properties meta() {
    Properties p = new Properties();
    ExecResult r = exec("cat", "/data/kafka/data/meta.properties");
    if (r.getExitCode() == 0) {
      try {
        p.load(new java.io.StringReader(r.getStdout()));
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
    return p;
  }

  /** The pod's payload file, as its record carries it. */
  String payload() {
    return exec("cat", "/data/payload.json").getStdout();
  }

  /** The broker JVM's pid as supervisord reports it (0 when it is not running). */
  long brokerPid() {
    Matcher m = Pattern.compile("RUNNING\\s+pid (\\d+)").matcher(exec("supervisorctl", "status", "kafka").getStdout());
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  /** {@code kafka.restarts} of the payload (0 when none yet). */
  int restarts() {
    Matcher m = Pattern.compile("\"restarts\"\\s*:\\s*(\\d+)").matcher(payload());
    return m.find() ? Integer.parseInt(m.group(1)) : 0;
  }

  /** Sends the broker JVM a signal, as root in the pod. */
  void signalBroker(String signal, long pid) {
    ExecResult r = exec("kill", "-" + signal, String.valueOf(pid));
    if (r.getExitCode() != 0) {
      throw new IllegalStateException(name + ": kill -" + signal + " " + pid + ": " + r.getStderr());
    }
  }

  /**
   * Replaces the pod's Downward API annotations file ({@code /etc/podinfo/annotations}, the
   * kubelet's {@code key="Go-quoted value"} lines) with the overrides annotation, atomically, as
   * the kubelet does when the pod's annotations change.
   */
  void podinfo(String overrides) {
    String value = overrides.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    String line = "kafka.unity3d.com/overrides=\"" + value + "\"";
    ExecResult r =
        exec("sh", "-c", "mkdir -p /etc/podinfo && printf '%s\\n' \"$1\" > /etc/podinfo/.annotations.new && mv /etc/podinfo/.annotations.new /etc/podinfo/annotations", "podinfo", line);
    if (r.getExitCode() != 0) {
      throw new IllegalStateException(name + ": cannot write /etc/podinfo/annotations: " + r.getStderr());
    }
  }

  /** {@code kontrol status --json}: record (with seq), groups, leadership. */
  String status() {
    return exec("kontrol", "status", "--json").getStdout();
  }

  /** This pod's seq in its group, from its own status. */
  int seq() {
    // the first seq of the status is its own record's
    Matcher m = Pattern.compile("\"seq\"\\s*:\\s*(\\d+)").matcher(status());
    if (!m.find()) {
      throw new IllegalStateException(name + ": no seq in its status");
    }
    return Integer.parseInt(m.group(1));
  }

  boolean isLeader() {
    return status().replaceAll("\\s", "").contains("\"leader\":true");
  }

  String logs() {
    return container.getLogs();
  }

  void saveLogs(Path dir) {
    PodContainers.saveLogs(container, name, dir);
  }

  /**
   * {@code docker restart}: the pod stops in order (supervisord stops the broker with a
   * controlled shutdown) and starts again with the same container, so the same volume and host
   * name, as a StatefulSet pod comes back with its claim.
   */
  void restart() {
    DockerNetworks.docker().restartContainerCmd(container.getContainerId()).withTimeout(60).exec();
  }

  /**
   * {@code docker stop} (supervisord stops the agent, which leaves its groups, and the broker
   * with a controlled shutdown; SIGKILL after 60 s), then the container and its data are
   * removed, as a StatefulSet pod deleted with its claim.
   */
  void stopAndRemove(Path logs) {
    DockerNetworks.docker().stopContainerCmd(container.getContainerId()).withTimeout(60).exec();
    saveLogs(logs);
    container.stop();
  }

  @Override
  public void close() {
    container.stop();
  }
}
