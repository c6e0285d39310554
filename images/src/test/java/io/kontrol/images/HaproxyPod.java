package io.kontrol.images;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.MountableFile;

/**
 * One pod of the HAProxy tests: a kontrol/haproxy proxy, or a downstream HTTP pod of the test's
 * own image (it answers every request with its host name and reports to the proxies' group). The
 * identity is given as KONTROL_* variables, as a pod run outside Kubernetes.
 */
final class HaproxyPod implements AutoCloseable {

  static final int TTL = 5;
  static final int DAMPER = 2;
  static final int FOVER = 5;

  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final Pattern REGISTERED = Pattern.compile("(?m)^(\\S+Z) INFO\\s+registered group=default/haproxy pod=");
  private static final Pattern MASTER = Pattern.compile("(?m)^(\\d+)\\s+master\\s+(\\d+)\\s+\\[failed:\\s*(\\d+)\\]");

  final String name;
  private final GenericContainer<?> container;
  private String ip;

  /** What {@code show proc} says of the master, and how many old workers it lists. */
  record Proc(long masterPid, int reloads, int failed, int oldWorkers) {}

  @SuppressWarnings("resource")
  private HaproxyPod(String name, String image, Network network, Map<String, String> env, int... ports) {
    this.name = name;
    Map<String, String> all = new HashMap<>(env);
    all.put("KONTROL_ETCD", "etcd:2379");
    all.put("KONTROL_TTL", String.valueOf(TTL));
    all.put("KONTROL_DAMPER", String.valueOf(DAMPER));
    all.put("KONTROL_FOVER", String.valueOf(FOVER));
    all.put("AWS_EC2_METADATA_DISABLED", "true");
    this.container =
        new GenericContainer<>(image)
            .withNetwork(network)
            .withCreateContainerCmdModifier(cmd -> cmd.withHostName(name).withName("kontrol-it-" + name + "-" + System.nanoTime()))
            .withEnv(all)
            .waitingFor(Wait.forLogMessage(".*registered group=default/haproxy.*", 1).withStartupTimeout(Duration.ofSeconds(120)));
  }

  /** The images directory of the checkout (a main runs from the root, a test in the module). */
  static Path imagesDir() {
    Path here = Path.of("images").toAbsolutePath();
    return Files.isDirectory(here.resolve("haproxy")) ? here : Path.of("").toAbsolutePath();
  }

  /** The downstream test pod's image: images/src/test/docker/web. */
  static Path webImageDir() {
    return imagesDir().resolve("src/test/docker/web");
  }

  /** A proxy whose template is {@code template} (its haproxy.unity3d.com/config at boot). */
  static HaproxyPod proxy(String name, Network network, String template) {
    return new HaproxyPod(
        name,
        LocalImages.HAPROXY,
        network,
        Map.of(
            "KONTROL_LABELS", "{\"app\":\"haproxy\",\"role\":\"balancer\"}",
            "KONTROL_ANNOTATIONS", json(Map.of("haproxy.unity3d.com/config", template))));
  }

  /** A downstream HTTP pod of app {@code app}, reporting to the proxies' group. */
  static HaproxyPod web(String name, String image, Network network, String app) {
    return web(name, image, network, app, "haproxy.default.svc");
  }

  /**
   * A downstream HTTP pod of app {@code app} whose {@code kontrol.unity3d.com/master} is {@code
   * masters} (e.g. its own group and the proxies').
   */
  static HaproxyPod web(String name, String image, Network network, String app, String masters) {
    return new HaproxyPod(
        name,
        image,
        network,
        Map.of(
            "KONTROL_LABELS", "{\"app\":\"" + app + "\",\"role\":\"http\"}",
            "KONTROL_ANNOTATIONS", "{\"kontrol.unity3d.com/master\":\"" + masters + "\"}"));
  }

  private static final Pattern CONFIGURE_ENDED = Pattern.compile("\\[(setup|configure)\\] pid \\d+ ended ");
  private static final Pattern CALLBACK_ENDED = Pattern.compile("callback (done|failed) ");

  /**
   * Whether no configure runs in this pod and no callback of its agent is running, from its log:
   * as many ended as started.
   */
  boolean idle() {
    String logs = logs();
    return PodContainers.count(PodContainers.CONFIGURE_STARTED, logs) + (logs.contains("(start) -> setup") ? 1 : 0)
            == PodContainers.count(CONFIGURE_ENDED, logs)
        && PodContainers.count(PodContainers.CALLBACK_STARTED, logs) == PodContainers.count(CALLBACK_ENDED, logs);
  }

  HaproxyPod start() {
    container.start();
    ip = container.getContainerInfo().getNetworkSettings().getNetworks().values().iterator().next().getIpAddress();
    return this;
  }

  String ip() {
    return ip;
  }

  /** When the pod's agent registered in the proxies' group (its log line's time). */
  Optional<Instant> registeredAt() {
    Matcher m = REGISTERED.matcher(logs());
    return m.find() ? Optional.of(Instant.parse(m.group(1))) : Optional.empty();
  }

  /** GET {@code path} on {@code port} of this pod: "STATUS BODY", or "failed: ..." */
  String get(int port, String path) {
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(URI.create("http://" + ip + ":" + port + path)).timeout(Duration.ofSeconds(3)).build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() + " " + r.body().strip();
    } catch (IOException e) {
      return "failed: " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * GET {@code path} on {@code port} over a new connection, closed after the answer: "STATUS BODY",
   * or "failed: ...". A proxy in TCP mode picks a server per connection, so a pooled connection
   * ({@link #get}) would keep asking the same downstream pod.
   */
  String getOnce(int port, String path) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(ip, port), 2_000);
      s.setSoTimeout(3_000);
      s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      int end = answer.indexOf("\r\n\r\n");
      String[] status = answer.split(" ", 3);
      if (end < 0 || status.length < 2) {
        return "failed: no HTTP answer: " + answer;
      }
      return status[1] + " " + answer.substring(end + 4).strip();
    } catch (IOException e) {
      return "failed: " + e;
    }
  }

  /** The operator configuration HAProxy runs. */
  String config() {
    return exec("cat", "/data/haproxy/haproxy.cfg").getStdout();
  }

  /** The pod's payload (its kontrol record's). */
  String payload() {
    return exec("cat", "/data/payload.json").getStdout();
  }

  /**
   * {@code show proc} on the master CLI; asked again while the master re-executes itself (a
   * reload closes its CLI for a moment), at most 10 s.
   */
  Proc proc() {
    String out = "";
    Matcher m = MASTER.matcher(out);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!m.find()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(name + ": no master in show proc within 10 s: " + out);
      }
      out = exec("sh", "-c", "echo 'show proc' | socat -t 5 - UNIX-CONNECT:/run/haproxy/master.sock").getStdout();
      m = MASTER.matcher(out);
    }
    int old = 0;
    int at = out.indexOf("# old workers");
    if (at >= 0) {
      String rest = out.substring(at + 1);
      int end = rest.indexOf("\n#");
      old = (int) (end < 0 ? rest : rest.substring(0, end)).lines().skip(1).filter(l -> l.matches("^\\d+\\s+worker.*")).count();
    }
    return new Proc(Long.parseLong(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), old);
  }

  /** Sends this pod's automaton {@code WAIT configure <input>} and returns its answer. */
  String configure(String input) {
    return exec("sh", "-c", "printf 'WAIT configure %s\\n' \"$1\" | socat -t 120 - UNIX-CONNECT:/tmp/sock", "configure", input).getStdout().strip();
  }

  /**
   * Replaces the pod's Downward API annotations file as the kubelet does (a new timestamped
   * directory, then an atomic {@code ..data} symlink swap).
   */
  void podinfo(Map<String, String> annotations) throws IOException {
    StringBuilder text = new StringBuilder();
    annotations.entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(e -> text.append(e.getKey()).append("=\"").append(goQuote(e.getValue())).append("\"\n"));
    Path tmp = Files.createTempFile("podinfo", ".txt");
    try {
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      container.copyFileToContainer(MountableFile.forHostPath(tmp, 0644), "/tmp/podinfo-annotations");
      ExecResult r =
          exec("sh", "-c",
              "d=/etc/podinfo; ts=$d/..$(date +%s%N); mkdir -p $ts && cp /tmp/podinfo-annotations $ts/annotations"
                  + " && ln -sfn $(basename $ts) $d/..data_tmp && mv -T $d/..data_tmp $d/..data"
                  + " && { [ -L $d/annotations ] || ln -sfn ..data/annotations $d/annotations; }");
      if (r.getExitCode() != 0) {
        throw new IOException(name + ": cannot write /etc/podinfo/annotations: " + r.getStderr());
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static String goQuote(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t");
  }

  static String json(Map<String, String> map) {
    StringBuilder sb = new StringBuilder("{");
    map.forEach(
        (k, v) -> {
          if (sb.length() > 1) {
            sb.append(',');
          }
          sb.append('"').append(jsonEscape(k)).append("\":\"").append(jsonEscape(v)).append('"');
        });
    return sb.append('}').toString();
  }

  private static String jsonEscape(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t");
  }

  String logs() {
    return container.getLogs();
  }

  ExecResult exec(String... command) {
    return PodContainers.exec(container, name, command);
  }

  /** {@code docker stop}: SIGTERM, the pod leaves its group in order. */
  void stop() {
    DockerNetworks.docker().stopContainerCmd(container.getContainerId()).withTimeout(45).exec();
  }

  void saveLogs(Path dir) {
    PodContainers.saveLogs(container, name, dir);
  }

  @Override
  public void close() {
    container.stop();
  }
}
