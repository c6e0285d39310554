package io.kontrol.images;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * One NATS pod: a kontrol/nats container whose identity is given as KONTROL_* variables, as a
 * pod run outside Kubernetes (no API server, no metadata service).
 */
final class NatsPod implements AutoCloseable {

  static final int TTL = 5;
  static final int DAMPER = 2;
  static final int FOVER = 5;

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final Pattern NUM_ROUTES = Pattern.compile("\"num_routes\"\\s*:\\s*(\\d+)");
  private static final Pattern ROUTE_IP = Pattern.compile("\"ip\"\\s*:\\s*\"([0-9.]+)\"");

  private static final Pattern CONFIG_LOAD_TIME = Pattern.compile("\"config_load_time\"\\s*:\\s*\"([^\"]+)\"");
  private static final Pattern INFO_CLUSTER = Pattern.compile("\"cluster\"\\s*:\\s*\"([^\"]*)\"");
  private static final Pattern SEQ = Pattern.compile("\"seq\":(\\d+)");
  /** The agent's own word that it leads its group, on its {@code /metrics}. */
  private static final Pattern LEADER = Pattern.compile("(?m)^kontrol_leader\\{[^}]*\\}\\s+1(\\.0)?\\s*$");

  final String name;
  private final GenericContainer<?> container;
  private String ip;
  /** When set, the monitoring and client ports are reached at this address instead of the mapped ports. */
  private volatile String via;

  NatsPod(String name, Network network) {
    this(name, network, "etcd:2379");
  }

  /** A pod whose agent reaches etcd at {@code etcd} ({@code KONTROL_ETCD}). */
  @SuppressWarnings("resource")
  NatsPod(String name, Network network, String etcd) {
    this.name = name;
    this.container =
        new GenericContainer<>(LocalImages.NATS)
            .withNetwork(network)
            .withCreateContainerCmdModifier(cmd -> cmd.withHostName(name).withName("kontrol-it-" + name + "-" + System.nanoTime()))
            .withEnv(
                Map.of(
                    "KONTROL_ETCD", etcd,
                    "KONTROL_LABELS", "{\"app\":\"nats\",\"role\":\"broker\"}",
                    "KONTROL_ANNOTATIONS", "{}",
                    "KONTROL_TTL", String.valueOf(TTL),
                    "KONTROL_DAMPER", String.valueOf(DAMPER),
                    "KONTROL_FOVER", String.valueOf(FOVER),
                    "AWS_EC2_METADATA_DISABLED", "true"))
            .withExposedPorts(4242, 8222, 8000)
            // the peer API answers once the agent runs; the broker itself starts on the first configure
            .waitingFor(Wait.forListeningPorts(8000).withStartupTimeout(Duration.ofSeconds(90)));
  }

  /** Sets one variable of the pod's environment (a {@code KONTROL_*} setting); before {@link #start()}. */
  NatsPod env(String key, String value) {
    container.withEnv(key, value);
    return this;
  }

  NatsPod start() {
    container.start();
    ip = container.getContainerInfo().getNetworkSettings().getNetworks().values().iterator().next().getIpAddress();
    return this;
  }

  String ip() {
    return ip;
  }

  /** Reads the pod's IP on {@code network} again (after a restart Docker may give another). */
  NatsPod refreshIp(Network network) {
    String now = DockerNetworks.ip(container.getContainerId(), network);
    if (now != null) {
      ip = now;
    }
    return this;
  }

  /** The container's id, for the Docker CLI. */
  String containerId() {
    return container.getContainerId();
  }

  String clientUrl() {
    return via != null ? "nats://" + via + ":4242" : "nats://" + container.getHost() + ":" + container.getMappedPort(4242);
  }

  /**
   * Reaches the pod's ports at {@code address} (an interface of its on another network) from now
   * on, as a client on the same side of a partition does; null goes back to the mapped ports.
   */
  NatsPod reachVia(String address) {
    this.via = address;
    return this;
  }

  private String monitorUrl(String path) {
    return (via != null ? "http://" + via + ":8222" : "http://" + container.getHost() + ":" + container.getMappedPort(8222)) + path;
  }

  /** The agent's HTTP endpoint (health and metrics), at the pod's own address. */
  private String agentUrl(String path) {
    return "http://" + (via != null ? via : ip) + ":8001" + path;
  }

  /** nats-server's {@code config_load_time} from {@code /varz}: it moves on every (re)load. */
  String configLoadTime() {
    String body = get(monitorUrl("/varz"));
    Matcher m = CONFIG_LOAD_TIME.matcher(body);
    return m.find() ? m.group(1) : "?" + body.length();
  }

  /** The broker's {@code /varz} ("?..." when it does not answer). */
  String varz() {
    return get(monitorUrl("/varz"));
  }

  /**
   * The cluster name this broker tells a new client in its INFO ("?..." when it does not answer).
   * nats-server's {@code /varz} keeps the name it started with after a reload; INFO follows it.
   */
  String clusterName() {
    String host = via != null ? via : container.getHost();
    int port = via != null ? 4242 : container.getMappedPort(4242);
    try (java.net.Socket s = new java.net.Socket()) {
      s.connect(new java.net.InetSocketAddress(host, port), 2000);
      s.setSoTimeout(2000);
      String info = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
      Matcher m = info == null ? null : INFO_CLUSTER.matcher(info);
      return m != null && m.find() ? m.group(1) : "?no cluster in " + info;
    } catch (IOException e) {
      return "?unreachable " + e.getMessage();
    }
  }

  /** The broker's PID, as supervisord knows it ("0" when it is not running). */
  String brokerPid() {
    return exec("supervisorctl", "pid", "nats-server").getStdout().strip();
  }

  /** The status code of the agent's {@code /readyz} (-1 when it does not answer), at the pod's own address. */
  int readyz() {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create(agentUrl("/readyz")))
          .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** This pod's seq in its group, from its status; -1 when it is not registered. */
  long seq() {
    Matcher m = SEQ.matcher(status().replaceAll("\\s", ""));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  private static String get(String url) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
          HttpResponse.BodyHandlers.ofString()).body();
    } catch (IOException e) {
      return "?unreachable";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "?interrupted";
    }
  }

  /** The IPs of the brokers this one has a route with, from its monitoring endpoint. */
  Set<String> routes() {
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(URI.create(monitorUrl("/routez")))
                  .timeout(Duration.ofSeconds(2))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      Set<String> ips = new TreeSet<>();
      Matcher m = ROUTE_IP.matcher(r.body());
      while (m.find()) {
        ips.add(m.group(1));
      }
      Matcher n = NUM_ROUTES.matcher(r.body());
      if (!n.find() || Integer.parseInt(n.group(1)) != ips.size()) {
        return Set.of("?inconsistent " + r.body().length());
      }
      return ips;
    } catch (IOException e) {
      return Set.of("?unreachable");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Set.of("?interrupted");
    }
  }

  /** The IPs of the other pods in {@code live}. */
  Set<String> others(java.util.Collection<NatsPod> live) {
    Set<String> ips = new TreeSet<>();
    for (NatsPod p : live) {
      if (p != this) {
        ips.add(p.ip());
      }
    }
    return ips;
  }

  /** Whether every pod of {@code live} has a route with every other one, and no other route. */
  static boolean meshed(java.util.Collection<NatsPod> live) {
    for (NatsPod pod : live) {
      if (!pod.routes().equals(pod.others(live))) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether the leader's callback has finished for exactly {@code live}: one of them leads and its
   * state lists their IPs as the peers.
   */
  static boolean settled(java.util.Collection<NatsPod> live) {
    String peers = live.stream().map(p -> "\"" + p.ip() + "\"").sorted().collect(java.util.stream.Collectors.joining(",", "\"peers\":[", "]"));
    return live.stream().map(p -> p.status().replaceAll("\\s", "")).anyMatch(s -> s.contains("\"leader\":true") && s.contains(peers));
  }

  /** The broker configuration the pod runs (the rendered file). */
  String brokerConfig() {
    return exec("cat", "/data/nats/nats.conf").getStdout();
  }

  /** {@code kontrol status --json} inside the pod: record, groups, leadership. */
  String status() {
    return exec("kontrol", "status", "--json").getStdout();
  }

  /** The argument vector ({@code /proc/PID/cmdline}) of the one process whose command line contains {@code match}. */
  java.util.List<String> commandLine(String match) {
    // [x]yz: a pattern that does not match the shell that runs pgrep
    String pattern = "[" + match.charAt(0) + "]" + match.substring(1);
    ExecResult r = exec("sh", "-c", "pid=$(pgrep -f '" + pattern + "') && [ $(echo \"$pid\" | wc -l) = 1 ]"
        + " && tr '\\0' '\\n' < /proc/$pid/cmdline");
    if (r.getExitCode() != 0) {
      throw new IllegalStateException(name + ": not exactly one process matches '" + match + "': " + r.getStderr()
          + exec("ps", "-eo", "pid,args").getStdout());
    }
    return java.util.List.of(r.getStdout().split("\n"));
  }

  /**
   * Whether the agent leads its group by its own account ({@code kontrol_leader} 1 on its {@code
   * /metrics}): one HTTP request, where {@link #status()} starts a JVM in the pod.
   */
  boolean isLeader() {
    return LEADER.matcher(get(agentUrl("/metrics"))).find();
  }

  String logs() {
    return container.getLogs();
  }

  ExecResult exec(String... command) {
    return PodContainers.exec(container, name, command);
  }

  /**
   * Writes the pod's annotations to its Downward API file {@code /etc/podinfo/annotations} the
   * way the kubelet does: Go-quoted {@code key="value"} lines in a new timestamped directory, then
   * the {@code ..data} symlink swapped to it by a rename. The agent follows the file.
   */
  void podinfo(Map<String, String> annotations) throws IOException {
    StringBuilder text = new StringBuilder();
    new java.util.TreeMap<>(annotations).forEach((k, v) -> text.append(k).append('=').append(goQuote(v)).append('\n'));
    podinfoText(text.toString().strip());
  }

  /** Writes {@code text} as the Downward API file's content, as is (for malformed files). */
  void podinfoText(String text) throws IOException {
    Path tmp = Files.createTempFile("podinfo", ".txt");
    try {
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      container.copyFileToContainer(org.testcontainers.utility.MountableFile.forHostPath(tmp, 0644), "/tmp/podinfo.txt");
      ExecResult r = exec("sh", "-c", "set -e; d=/etc/podinfo; ts=$d/..$(date +%s%N); mkdir -p $ts;"
          + " cp /tmp/podinfo.txt $ts/annotations; chmod 0755 $d $ts; chmod 0644 $ts/annotations;"
          + " old=$(readlink $d/..data || true); ln -sfn $(basename $ts) $d/..data_tmp; mv -T $d/..data_tmp $d/..data;"
          + " [ -L $d/annotations ] || ln -s ..data/annotations $d/annotations;"
          + " [ -z \"$old\" ] || rm -rf $d/$old");
      if (r.getExitCode() != 0) {
        throw new IOException("cannot write the Downward API file: " + r.getStderr());
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Go's strconv.Quote, as the kubelet writes a value (ASCII controls as \xNN, the rest as is). */
  static String goQuote(String v) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : v.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\t' -> out.append("\\t");
        case '\r' -> out.append("\\r");
        default -> out.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
      }
    }
    return out.append('"').toString();
  }

  /** The command line of the container's PID 1. */
  String pid1() {
    return exec("sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline").getStdout().trim();
  }

  /** supervisord's pid of one of its programs (0 when not running). */
  long programPid(String program) {
    String out = exec("supervisorctl", "pid", program).getStdout().trim();
    return out.matches("\\d+") ? Long.parseLong(out) : 0;
  }

  /** The container's exit code once it has stopped. */
  Long exitCode() {
    return DockerNetworks.docker().inspectContainerCmd(container.getContainerId()).exec().getState().getExitCodeLong();
  }

  /** {@code docker stop}: SIGTERM, the pod shuts down in order (the agent deregisters). */
  void stop() {
    DockerNetworks.docker().stopContainerCmd(container.getContainerId()).withTimeout(20).exec();
  }

  /** {@code docker kill}: SIGKILL, nothing runs on the way out; its lease expires. */
  void kill() {
    DockerNetworks.docker().killContainerCmd(container.getContainerId()).exec();
  }

  void saveLogs(Path dir) {
    PodContainers.saveLogs(container, name, dir);
  }

  @Override
  public void close() {
    container.stop();
  }
}
