package io.kontrol.proxy.kafka;

import static org.awaitility.Awaitility.await;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;

/**
 * Real KRaft brokers for tests: each node is broker and controller in its own child JVM, started
 * from the Maven jars on the test class path ({@code kafka.tools.StorageTool format}, then
 * {@code kafka.Kafka server.properties}), on free loopback ports, in a temp directory. A node can
 * be stopped (SIGTERM: controlled shutdown), killed and started again on the same ports and data,
 * as a pod restarts. One cluster per test class; {@link #close()} stops every JVM and deletes the
 * directory. The brokers' class path is this JVM's, or {@code -Dkontrol.kafka.classpath} when set
 * (a main run by a tool whose own class path is not the project's).
 */
public final class KafkaCluster implements Closeable {
  /** The broker's message.max.bytes in these tests (Kafka's default is 1 MiB). */
  public static final int MESSAGE_MAX_BYTES = 100_000;

  private final Path dir;
  private final List<Node> nodes = new ArrayList<>();
  private final String clusterId = Uuid.randomUuid().toString();
  private Admin admin;

  private final class Node {
    final int id;
    final int port;
    final int controllerPort;
    final Path home;
    Process process;

    Node(int id) throws IOException {
      this.id = id;
      this.port = freePort();
      this.controllerPort = freePort();
      this.home = dir.resolve("node-" + id);
      Files.createDirectories(home);
    }

    Path config() {
      return home.resolve("server.properties");
    }

    Path log() {
      return home.resolve("broker.log");
    }
  }

  private KafkaCluster(int size, Map<String, String> overrides) throws IOException {
    this.dir = Files.createTempDirectory("kontrol-kafka-");
    for (int i = 1; i <= size; i++) {
      nodes.add(new Node(i));
    }
    String voters = nodes.stream().map(n -> n.id + "@127.0.0.1:" + n.controllerPort).collect(Collectors.joining(","));
    Path log4j = dir.resolve("log4j2.properties");
    Files.writeString(log4j, String.join("\n",
        "appender.file.type = File",
        "appender.file.name = file",
        "appender.file.fileName = ${sys:kafka.logs.dir}/broker.log",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d] %p %m (%c)%n",
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.file.ref = file",
        "logger.kafka.name = org.apache.kafka",
        "logger.kafka.level = WARN",
        "logger.state.name = state.change.logger",
        "logger.state.level = WARN",
        ""));
    int rf = Math.min(3, size);
    for (Node n : nodes) {
      Map<String, String> p = new TreeMap<>();
      p.put("process.roles", "broker,controller");
      p.put("node.id", Integer.toString(n.id));
      p.put("listeners", "PLAINTEXT://127.0.0.1:" + n.port + ",CONTROLLER://127.0.0.1:" + n.controllerPort);
      p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + n.port);
      p.put("controller.listener.names", "CONTROLLER");
      p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
      p.put("inter.broker.listener.name", "PLAINTEXT");
      p.put("controller.quorum.voters", voters);
      p.put("log.dirs", n.home.resolve("data").toString());
      p.put("offsets.topic.replication.factor", Integer.toString(rf));
      p.put("offsets.topic.num.partitions", "3");
      p.put("transaction.state.log.replication.factor", Integer.toString(rf));
      p.put("transaction.state.log.min.isr", Integer.toString(Math.min(2, rf)));
      p.put("transaction.state.log.num.partitions", "3");
      p.put("group.initial.rebalance.delay.ms", "0");
      p.put("num.partitions", "3");
      p.put("default.replication.factor", Integer.toString(rf));
      p.put("min.insync.replicas", Integer.toString(Math.min(2, rf)));
      p.put("auto.create.topics.enable", "false");
      p.put("message.max.bytes", Integer.toString(MESSAGE_MAX_BYTES));
      p.put("controlled.shutdown.enable", "true");
      p.putAll(overrides);
      Files.writeString(n.config(), p.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
          .collect(Collectors.joining("\n", "", "\n")));
      run(n, "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", n.config().toString());
    }
  }

  /** Formats and starts {@code size} nodes; returns when every broker is registered and unfenced. */
  public static KafkaCluster start(int size) throws IOException {
    return start(size, Map.of());
  }

  public static KafkaCluster start(int size, Map<String, String> overrides) throws IOException {
    KafkaCluster c = new KafkaCluster(size, overrides);
    try {
      for (int i = 0; i < size; i++) {
        c.launch(c.nodes.get(i));
      }
      Properties ap = new Properties();
      ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, c.bootstrap());
      c.admin = Admin.create(ap);
      c.awaitBrokers(size);
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  public String bootstrap() {
    return nodes.stream().map(n -> "127.0.0.1:" + n.port).collect(Collectors.joining(","));
  }

  public Admin admin() {
    return admin;
  }

  public int size() {
    return nodes.size();
  }

  /** Creates a topic (replication: the cluster's size, at most 3) and waits until it has leaders. */
  public void createTopic(String name, int partitions, Map<String, String> config) {
    short rf = (short) Math.min(3, nodes.size());
    try {
      admin.createTopics(List.of(new NewTopic(name, partitions, rf).configs(config))).all().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("create topic " + name + ": " + e, e);
    }
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() ->
        admin.describeTopics(List.of(name)).allTopicNames().get().get(name).partitions().stream()
            .allMatch(p -> p.leader() != null && !p.leader().isEmpty()));
  }

  /** Stops node {@code id} (1-based) with SIGTERM, as supervisord would, and waits for its exit. */
  public void stop(int id) {
    Node n = nodes.get(id - 1);
    if (n.process == null) {
      return;
    }
    n.process.destroy();
    try {
      if (!n.process.waitFor(60, TimeUnit.SECONDS)) {
        n.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    n.process = null;
  }

  /** Starts node {@code id} again on its ports and data; waits until all brokers are registered. */
  public void restart(int id) throws IOException {
    launch(nodes.get(id - 1));
    awaitBrokers(nodes.size());
  }

  private void awaitBrokers(int n) {
    await("brokers registered").atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250))
        .ignoreExceptions()
        .until(() -> {
          for (Node node : nodes) {
            if (node.process != null && !node.process.isAlive()) {
              throw new AssertionError("broker " + node.id + " exited: " + tail(node));
            }
          }
          return admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size() == n;
        });
  }

  private void launch(Node n) throws IOException {
    List<String> cmd = java(n, "kafka.Kafka", n.config().toString());
    n.process = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(n.home.resolve("stdout.log").toFile())).start();
  }

  private List<String> java(Node n, String main, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of("-Xmx512m", "-Xms128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss1m",
        "-Dlog4j2.configurationFile=" + dir.resolve("log4j2.properties"),
        "-Dkafka.logs.dir=" + n.home,
        "-cp", System.getProperty("kontrol.kafka.classpath", System.getProperty("java.class.path")), main));
    cmd.addAll(List.of(args));
    return cmd;
  }

  private void run(Node n, String main, String... args) throws IOException {
    Process p = new ProcessBuilder(java(n, main, args)).redirectErrorStream(true)
        .redirectOutput(n.home.resolve("format.log").toFile()).start();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IllegalStateException(main + " failed: " + Files.readString(n.home.resolve("format.log")));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private String tail(Node n) {
    try {
      List<String> lines = new ArrayList<>();
      for (Path f : List.of(n.home.resolve("stdout.log"), n.log())) {
        if (Files.exists(f)) {
          List<String> all = Files.readAllLines(f, StandardCharsets.UTF_8);
          lines.addAll(all.subList(Math.max(0, all.size() - 20), all.size()));
        }
      }
      return String.join("\n", lines);
    } catch (IOException e) {
      return e.toString();
    }
  }

  @Override
  public void close() {
    if (admin != null) {
      admin.close(Duration.ofSeconds(5));
    }
    nodes.forEach(n -> {
      if (n.process != null) {
        n.process.destroyForcibly();
      }
    });
    for (Node n : nodes) {
      if (n.process != null) {
        try {
          n.process.waitFor(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }
}
