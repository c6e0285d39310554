package io.kontrol.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The etcd image's clustered entrypoint ({@code images/etcd/etcd-cluster}) with the environment the
 * etcd chart renders, run on this machine with Debian's real etcd (on loopback ports: the extra
 * arguments the chart passes through override the listeners).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class EtcdEntrypointTest {

  private static final Path SCRIPT = Path.of(System.getProperty("kontrol.images", "../images")).resolve("etcd/etcd-cluster");

  private static Map<String, String> chartEnv(String replicas, String podName, Path data) {
    StatefulSet sts = Manifests.one(Manifests.load(Charts.template(Charts.chart("etcd"), null, "1.33.0",
        Map.of("replicas", replicas))), StatefulSet.class);
    Container c = sts.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(c.getCommand()).containsExactly("/usr/local/bin/etcd-cluster");
    Map<String, String> env = new HashMap<>();
    env.put("PATH", System.getenv("PATH"));
    for (EnvVar e : c.getEnv()) {
      if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      } else if ("metadata.name".equals(e.getValueFrom().getFieldRef().getFieldPath())) {
        env.put(e.getName(), podName);
      } else if ("metadata.namespace".equals(e.getValueFrom().getFieldRef().getFieldPath())) {
        env.put(e.getName(), Charts.NAMESPACE);
      }
    }
    env.put("DATA_DIR", data.toString());
    return env;
  }

  private static Process start(Map<String, String> env, Path log, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("sh", SCRIPT.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    return pb.start();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void oneMemberFromTheChartsEnvironmentServesAndIsHealthy() throws Exception {
    Path dir = Files.createDirectories(Charts.tree().resolve("etcd-one"));
    Path log = dir.resolve("etcd.log");
    int client = freePort();
    int peer = freePort();
    Process etcd = start(chartEnv("1", "etcd-0", dir.resolve("data")), log,
        "--listen-client-urls", "http://127.0.0.1:" + client, "--listen-peer-urls", "http://127.0.0.1:" + peer);
    try {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).ignoreExceptions().until(() -> {
        assertThat(etcd.isAlive()).as("etcd runs; log: %s", Files.readString(log)).isTrue();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + client + "/health"))
            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() == 200 && r.body().contains("\"health\":\"true\"");
      });
      assertThat(Files.readString(log)).contains("etcd-cluster: etcd-0 joins the first cluster etcd-0=http://etcd-0.etcd-headless."
          + Charts.NAMESPACE + ".svc.cluster.local:2380");
      assertThat(dir.resolve("data/member")).isDirectory();
    } finally {
      etcd.destroy();
      assertThat(etcd.waitFor(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void threeMembersAreTheStatefulSetsOrdinalsOnTheHeadlessService() throws Exception {
    Path dir = Files.createDirectories(Charts.tree().resolve("etcd-three"));
    Path log = dir.resolve("etcd.log");
    // the other members' names do not resolve here: what matters is the cluster it is told of
    Process etcd = start(chartEnv("3", "etcd-1", dir.resolve("data")), log,
        "--listen-client-urls", "http://127.0.0.1:" + freePort(), "--listen-peer-urls", "http://127.0.0.1:" + freePort());
    try {
      String suffix = ".etcd-headless." + Charts.NAMESPACE + ".svc.cluster.local:2380";
      await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(log).contains("joins the first cluster"));
      assertThat(Files.readString(log)).contains("etcd-cluster: etcd-1 joins the first cluster etcd-0=http://etcd-0" + suffix
          + ",etcd-1=http://etcd-1" + suffix + ",etcd-2=http://etcd-2" + suffix);
    } finally {
      etcd.destroy();
      etcd.waitFor(20, TimeUnit.SECONDS);
    }
  }

  @Test
  void aBadEnvironmentIsRefusedWithWhatIsWrong() throws Exception {
    Path dir = Files.createDirectories(Charts.tree().resolve("etcd-bad"));
    Map<String, String> good = chartEnv("3", "etcd-0", dir.resolve("data"));
    Map<String, String> noName = new HashMap<>(good);
    noName.remove("POD_NAME");
    Map<String, String> noOrdinal = new HashMap<>(good);
    noOrdinal.put("POD_NAME", "etcd");
    Map<String, String> badSize = new HashMap<>(good);
    badSize.put("CLUSTER_SIZE", "three");
    Map<String, String> noService = new HashMap<>(good);
    noService.remove("CLUSTER_SERVICE");
    for (Map.Entry<Map<String, String>, String> c : Map.of(noName, "POD_NAME is not set", noOrdinal,
        "POD_NAME 'etcd' is not <statefulset>-<ordinal>", badSize, "CLUSTER_SIZE must be a number, not 'three'",
        noService, "CLUSTER_SERVICE is not set").entrySet()) {
      Path log = dir.resolve("bad.log");
      Process p = start(c.getKey(), log);
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isEqualTo(2);
      assertThat(Files.readString(log, StandardCharsets.UTF_8)).contains("etcd-cluster: " + c.getValue());
      assertThat(dir.resolve("data")).doesNotExist();
    }
  }
}
