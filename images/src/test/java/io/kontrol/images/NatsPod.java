package io.kontrol.images;

import com.github.dockerjava.api.DockerClient;
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
import org.testcontainers.DockerClientFactory;
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

  final String name;
  private final GenericContainer<?> container;
  private String ip;

  @SuppressWarnings("resource")
  NatsPod(String name, Network network) {
    this.name = name;
    this.container =
        new GenericContainer<>(LocalImages.NATS)
            .withNetwork(network)
            .withCreateContainerCmdModifier(cmd -> cmd.withHostName(name).withName("kontrol-it-" + name + "-" + System.nanoTime()))
            .withEnv(
                Map.of(
                    "KONTROL_ETCD", "etcd:2379",
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

  /**
   * Runs supervisord itself as the pod's init instead of {@code kontrol boot} (the identity is
   * given as variables, so boot would only hand over to it); for measuring a pod without a
   * resident boot JVM.
   */
  NatsPod withSupervisordAsInit() {
    container.withCreateContainerCmdModifier(
        cmd -> cmd.withEntrypoint("/usr/bin/supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"));
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

  /** The container's id, for the Docker CLI. */
  String containerId() {
    return container.getContainerId();
  }

  String clientUrl() {
    return "nats://" + container.getHost() + ":" + container.getMappedPort(4242);
  }

  /** The IPs of the brokers this one has a route with, from its monitoring endpoint. */
  Set<String> routes() {
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(
                      URI.create("http://" + container.getHost() + ":" + container.getMappedPort(8222) + "/routez"))
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

  boolean isLeader() {
    return status().replaceAll("\\s", "").contains("\"leader\":true");
  }

  String logs() {
    return container.getLogs();
  }

  ExecResult exec(String... command) {
    try {
      return container.execInContainer(command);
    } catch (IOException e) {
      throw new IllegalStateException(name + ": exec " + String.join(" ", command) + " failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Writes the pod's live annotations, as the pod watch does in Kubernetes. */
  void annotate(String annotationsJson) throws IOException {
    Path tmp = Files.createTempFile("annotations", ".json");
    try {
      Files.writeString(tmp, annotationsJson, StandardCharsets.UTF_8);
      container.copyFileToContainer(org.testcontainers.utility.MountableFile.forHostPath(tmp, 0644), "/tmp/annotations.json");
      ExecResult r = exec("sh", "-c", "cp /tmp/annotations.json /data/annotations.json.new && mv /data/annotations.json.new /data/annotations.json && chown kontrol /data/annotations.json");
      if (r.getExitCode() != 0) {
        throw new IOException("cannot write the annotations: " + r.getStderr());
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** {@code docker stop}: SIGTERM, the pod shuts down in order (the agent deregisters). */
  void stop() {
    docker().stopContainerCmd(container.getContainerId()).withTimeout(20).exec();
  }

  /** {@code docker kill}: SIGKILL, nothing runs on the way out; its lease expires. */
  void kill() {
    docker().killContainerCmd(container.getContainerId()).exec();
  }

  void saveLogs(Path dir) {
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(name + ".log"), container.getLogs(), StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      // the logs are a diagnosis aid; a container already gone has none to save
    }
  }

  private static DockerClient docker() {
    return DockerClientFactory.instance().client();
  }

  @Override
  public void close() {
    container.stop();
  }
}
