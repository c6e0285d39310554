package io.kontrol.agent.annotations;

import static io.kontrol.agent.testing.ChildJvm.classpath;
import static io.kontrol.agent.testing.ChildJvm.freePort;
import static io.kontrol.agent.testing.ChildJvm.java;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.rpc.LastInputs;
import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerOutcome;
import io.kontrol.agent.rpc.PeerServer;
import io.kontrol.agent.rpc.StatusSource;
import io.kontrol.agent.rpc.TransitionResult;
import io.kontrol.agent.testing.EtcdCluster;
import io.kontrol.agent.testing.KubernetesObjects;
import io.kontrol.automaton.client.AutomatonClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live annotations with a real automaton (child JVM) and, for the Downward API file, a real agent
 * ({@code kontrol run}, child JVM) against a real etcd; the test plays the group's leader through
 * the peer API. The Kubernetes API is fabric8's mock server in CRUD mode, a STAND-IN.
 */
@Timeout(180)
@EnableKubernetesMockClient(crud = true)
class LiveAnnotationsTest {

  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();

  static KubernetesMockServer server;
  static KubernetesClient client;

  static final String INPUT = "{\"peers\":[\"10.0.0.1\",\"10.0.0.2\"]}";

  @TempDir Path dir;

  /** The automaton: {@code configure} appends one line per run with its input and what it sees of the annotations. */
  private Process automaton(Path annotationsFile) throws Exception {
    Files.writeString(dir.resolve("configure.sh"),
        "printf 'input=%s file=%s env=%s\\n' \"$INPUT\" \"$(cat \"$ANN\")\" \"$KONTROL_ANNOTATIONS\" >> \"$LOG\"\n");
    Files.writeString(dir.resolve("lifecycle.yml"), String.join("\n",
        "initial: setup",
        "terminal: shutdown",
        "states:",
        "- tag: setup",
        "  shell: 'true'",
        "  next: ['*']",
        "- tag: configure",
        "  shell: sh " + dir.resolve("configure.sh"),
        "  next: ['*']",
        "- tag: shutdown",
        "  shell: 'true'",
        ""));
    ProcessBuilder pb = new ProcessBuilder(java(), "-XX:TieredStopAtLevel=1", "-cp", classpath(),
        "io.kontrol.automaton.cli.AutomatonCommand", dir.resolve("lifecycle.yml").toString(),
        "-s", dir.resolve("sock").toString(), "-l", "-")
        .redirectErrorStream(true).redirectOutput(dir.resolve("automaton.log").toFile());
    pb.environment().put("ANN", annotationsFile.toString());
    pb.environment().put("LOG", dir.resolve("configure.log").toString());
    pb.environment().put("KONTROL_ANNOTATIONS", "{}");
    Process p = pb.start();
    AutomatonClient a = new AutomatonClient(dir.resolve("sock"));
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> {
      assertThat(p.isAlive()).as("automaton running").isTrue();
      try {
        return a.send("STATE", Duration.ofSeconds(1)).equals("setup");
      } catch (IOException | TimeoutException e) {
        return false;
      }
    });
    return p;
  }

  private List<String> runs() throws IOException {
    Path log = dir.resolve("configure.log");
    return Files.exists(log) ? Files.readAllLines(log) : List.of();
  }

  /** The kubelet's way: a new timestamped directory, then {@code ..data} swapped to it by a rename. */
  private static void kubeletWrite(Path podinfo, String content) throws IOException {
    Files.createDirectories(podinfo);
    Path data = Files.createDirectory(podinfo.resolve("..2026_12_01_" + System.nanoTime()));
    Files.writeString(data.resolve(PodInfo.FILE), content, StandardCharsets.UTF_8);
    Path tmp = podinfo.resolve("..data_tmp");
    Files.deleteIfExists(tmp);
    Files.createSymbolicLink(tmp, data.getFileName());
    Files.move(tmp, podinfo.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    if (!Files.isSymbolicLink(podinfo.resolve(PodInfo.FILE))) {
      Files.createSymbolicLink(podinfo.resolve(PodInfo.FILE), Path.of("..data", PodInfo.FILE));
    }
  }

  /** A plain rewrite of {@code <dir>/annotations} (replacing the kubelet's symlink by a file). */
  private static void plainWrite(Path podinfo, String content) throws IOException {
    Path tmp = podinfo.resolve(".annotations.tmp");
    Files.writeString(tmp, content, StandardCharsets.UTF_8);
    Files.move(tmp, podinfo.resolve(PodInfo.FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static String occurrences(String text, String needle) {
    int n = 0;
    for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
      n++;
    }
    return String.valueOf(n);
  }

  @Test
  void theDownwardApiFileDrivesARealAgentAndAChangedTemplateReRunsConfigureWithTheLastInput() throws Exception {
    String app = "live" + System.nanoTime() % 100_000;
    Path podinfo = dir.resolve("podinfo");
    Path annotations = dir.resolve("annotations.json");
    String master = "kontrol.unity3d.com/master=\"" + app + ".default.svc\"";
    kubeletWrite(podinfo, master + "\nnats.unity3d.com/config=\"v1 \\\"quoted\\\"\\n\"");

    int port = freePort();
    Map<String, String> env = new HashMap<>();
    env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    env.put("HOME", dir.toString());
    env.put("KONTROL_ETCD", ETCD.endpointList());
    env.put("KONTROL_MODE", "slave");
    env.put("KONTROL_ID", "live-0");
    env.put("KONTROL_IP", "127.0.0.9");
    env.put("KONTROL_LABELS", "{\"app\":\"" + app + "\",\"role\":\"test\"}");
    // the Downward API file wins: this group is never joined
    env.put("KONTROL_ANNOTATIONS", "{\"kontrol.unity3d.com/master\":\"elsewhere.default.svc\"}");
    env.put("KONTROL_PODINFO", podinfo.toString());
    env.put("KONTROL_ANNOTATIONS_FILE", annotations.toString());
    env.put("KONTROL_TTL", "5");
    env.put("KONTROL_PORT", String.valueOf(port));
    env.put("KONTROL_HTTP_PORT", "0");
    env.put("KONTROL_SOCKET", dir.resolve("sock").toString());

    Process automaton = automaton(annotations);
    ProcessBuilder pb = new ProcessBuilder(List.of(java(), "-XX:TieredStopAtLevel=1", "-cp", classpath(),
        "io.kontrol.agent.cli.KontrolCommand", "run"))
        .redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile());
    pb.environment().clear();
    pb.environment().putAll(env);
    Process agent = pb.start();
    try (Client etcd = ETCD.newClient(); PeerClient peer = new PeerClient(PeerConfig.newBuilder().build())) {
      ByteSequence key = ByteSequence.from(new Group("default", app).podKey("live-0"), StandardCharsets.UTF_8);
      // a read slower than 5 s on a loaded machine is retried, not a failure
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
          .ignoreExceptionsInstanceOf(TimeoutException.class)
          .until(() -> etcd.getKVClient().get(key).get(5, TimeUnit.SECONDS).getCount() == 1);
      assertThat(Files.readString(annotations)).contains("\"nats.unity3d.com/config\":\"v1 \\\"quoted\\\"\\n\"");

      // the leader's configure, then the template changes through the kubelet's ..data swap
      TransitionResult r = peer.transition("127.0.0.1", port, "configure", INPUT, true, Duration.ofSeconds(30));
      assertThat(r.outcome()).as(r.toString()).isEqualTo(PeerOutcome.OK);
      assertThat(runs()).hasSize(1);
      assertThat(runs().get(0)).startsWith("input=" + INPUT + " file=").contains("v1 \\\"quoted");

      kubeletWrite(podinfo, master + "\nnats.unity3d.com/config=\"v2\\tfixed\"");
      await().atMost(Duration.ofSeconds(20)).until(() -> runs().size() == 2);
      assertThat(runs().get(1)).startsWith("input=" + INPUT + " file=")
          .contains("file={\"kontrol.unity3d.com/master\":\"" + app + ".default.svc\",\"nats.unity3d.com/config\":\"v2\\tfixed\"}")
          .contains("env={\"kontrol.unity3d.com/master\":\"" + app + ".default.svc\",\"nats.unity3d.com/config\":\"v2\\tfixed\"}");
      String good = Files.readString(annotations);

      // malformed files: one line each, with file and line; nothing changes
      String file = podinfo.resolve(PodInfo.FILE).toString();
      plainWrite(podinfo, master + "\nno equals sign");
      await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(dir.resolve("agent.log"))
          .contains(file + " line 2: expected key=\"value\", found no '=' (the last good annotations stay)"));
      plainWrite(podinfo, master + "\nnats.unity3d.com/config=\"v3 half-writ");
      await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(dir.resolve("agent.log"))
          .contains(file + " line 2: the value of nats.unity3d.com/config must be a double-quoted string"));
      plainWrite(podinfo, master + "\nnats.unity3d.com/config=\"bad \\q escape\"");
      await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(dir.resolve("agent.log"))
          .contains(file + " line 2: the value of nats.unity3d.com/config has an unknown escape '\\q'"));
      assertThat(Files.readString(annotations)).isEqualTo(good);

      // an annotation that is not the service's: new annotations, no re-run; then a plain rewrite of the template
      plainWrite(podinfo, "kubectl.kubernetes.io/last-applied-configuration=\"{}\"\n" + master
          + "\nnats.unity3d.com/config=\"v2\\tfixed\"");
      await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(annotations).contains("last-applied"));
      plainWrite(podinfo, master + "\nnats.unity3d.com/config=\"v4\"");
      await().atMost(Duration.ofSeconds(20)).until(() -> runs().size() >= 3);
      assertThat(runs()).hasSize(3);
      assertThat(runs().get(2)).startsWith("input=" + INPUT + " file=").contains("\"nats.unity3d.com/config\":\"v4\"}");
      String log = Files.readString(dir.resolve("agent.log"));
      assertThat(occurrences(log, "found no '='")).as("the malformed file is reported once").isEqualTo("1");
      assertThat(log).contains("configure re-run with the last input pod=live-0");

      agent.destroy();
      assertThat(agent.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(etcd.getKVClient().get(key).get(30, TimeUnit.SECONDS).getCount()).as("deregistered").isZero();
    } catch (AssertionError | RuntimeException e) {
      throw new AssertionError(e.getMessage() + "\nagent log:\n" + Files.readString(dir.resolve("agent.log")), e);
    } finally {
      if (agent.isAlive()) {
        agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      automaton.destroy();
      if (!automaton.waitFor(15, TimeUnit.SECONDS)) {
        automaton.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void withoutTheFileTheKubernetesApiIsFollowed() throws Exception {
    client.pods().inNamespace("live").resource(KubernetesObjects.pod("live", "pod-1", "node-1", "10.1.0.7", "10.0.0.5",
        Map.of("app", "x"), Map.of("haproxy.unity3d.com/config", "t1"))).create();
    Path annotations = dir.resolve("annotations.json");
    Process automaton = automaton(annotations);
    LastInputs inputs = new LastInputs();
    Map<String, String> env = Map.of("NAMESPACE", "live", "KONTROL_PODINFO", dir.resolve("no-podinfo").toString(),
        "KONTROL_ANNOTATIONS_FILE", annotations.toString(), "KONTROL_ANNOTATIONS", "{\"haproxy.unity3d.com/config\":\"t1\"}");
    PeerConfig config = PeerConfig.newBuilder().port(0).socket(dir.resolve("sock")).build();
    try (PeerServer peers = PeerServer.start(config, StatusSource.none(), io.kontrol.agent.metrics.AgentEvents.NONE, inputs);
        PeerClient peer = new PeerClient(config);
        LiveAnnotations live = LiveAnnotations.start(env, "pod-1", dir.resolve("sock"), inputs, server.createClient())) {
      assertThat(Files.readString(annotations)).isEqualTo("{\"haproxy.unity3d.com/config\":\"t1\"}\n");

      // a change before any configure: the file follows, nothing is re-run
      client.pods().inNamespace("live").withName("pod-1")
          .edit(p -> { p.getMetadata().getAnnotations().put("haproxy.unity3d.com/config", "t2"); return p; });
      await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(annotations).contains("t2"));
      assertThat(runs()).isEmpty();

      assertThat(peer.transition("127.0.0.1", peers.port(), "configure", INPUT, true, Duration.ofSeconds(30)).outcome())
          .isEqualTo(PeerOutcome.OK);
      assertThat(inputs.last("configure")).contains(INPUT);
      client.pods().inNamespace("live").withName("pod-1")
          .edit(p -> { p.getMetadata().getAnnotations().put("haproxy.unity3d.com/config", "t3"); return p; });
      await().atMost(Duration.ofSeconds(20)).until(() -> runs().size() == 2);
      assertThat(runs().get(1)).isEqualTo("input=" + INPUT + " file={\"haproxy.unity3d.com/config\":\"t3\"}"
          + " env={\"haproxy.unity3d.com/config\":\"t3\"}");
      assertThat(live.current()).containsExactly(Map.entry("haproxy.unity3d.com/config", "t3"));

      // once a Downward API file appears, it wins over the API
      List<String> before = new ArrayList<>(runs());
      kubeletWrite(dir.resolve("no-podinfo"), "haproxy.unity3d.com/config=\"from-file\"");
      await().atMost(Duration.ofSeconds(20)).until(() -> runs().size() == 3);
      assertThat(runs().get(2)).contains("\"from-file\"");
      client.pods().inNamespace("live").withName("pod-1")
          .edit(p -> { p.getMetadata().getAnnotations().put("haproxy.unity3d.com/config", "t4"); return p; });
      // the file is re-read at least every RESCAN: a further file change shows the API change was ignored
      kubeletWrite(dir.resolve("no-podinfo"), "haproxy.unity3d.com/config=\"from-file-2\"");
      await().atMost(Duration.ofSeconds(20)).until(() -> runs().size() == 4);
      assertThat(runs().subList(0, 3)).startsWith(before.toArray(String[]::new));
      assertThat(runs().get(3)).contains("\"from-file-2\"");
      assertThat(String.join("\n", runs())).doesNotContain("t4");
    } finally {
      automaton.destroy();
      if (!automaton.waitFor(15, TimeUnit.SECONDS)) {
        automaton.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Failsafe: while etcd cannot be reached (here a flag standing for the agent's etcd contact,
   * which {@code Sidecar} wires in), a changed template updates the annotations but re-renders
   * nothing; the held re-run happens once etcd answers again.
   */
  @Test
  void aTemplateChangedWhileEtcdIsAwayIsReRunOnlyOnceItIsBack() throws Exception {
    Path podinfo = dir.resolve("podinfo");
    kubeletWrite(podinfo, "nats.unity3d.com/config=\"v1\"");
    Path annotations = dir.resolve("annotations.json");
    Process automaton = automaton(annotations);
    LastInputs inputs = new LastInputs();
    Map<String, String> env = Map.of("KONTROL_PODINFO", podinfo.toString(), "KONTROL_ANNOTATIONS_FILE", annotations.toString());
    PeerConfig config = PeerConfig.newBuilder().port(0).socket(dir.resolve("sock")).build();
    java.util.concurrent.atomic.AtomicBoolean etcdAway = new java.util.concurrent.atomic.AtomicBoolean();
    try (PeerServer peers = PeerServer.start(config, StatusSource.none(), io.kontrol.agent.metrics.AgentEvents.NONE, inputs);
        PeerClient peer = new PeerClient(config);
        LiveAnnotations live = LiveAnnotations.start(env, "pod-1", dir.resolve("sock"), inputs, null)) {
      live.holdWhile(etcdAway::get);
      assertThat(peer.transition("127.0.0.1", peers.port(), "configure", INPUT, true, Duration.ofSeconds(30)).outcome())
          .isEqualTo(PeerOutcome.OK);
      assertThat(runs()).hasSize(1);

      etcdAway.set(true);
      kubeletWrite(podinfo, "nats.unity3d.com/config=\"v2\"");
      await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(annotations).contains("v2"));
      // two re-scans later, still nothing re-rendered
      await().during(LiveAnnotations.RESCAN.multipliedBy(2)).atMost(LiveAnnotations.RESCAN.multipliedBy(3))
          .until(() -> runs().size() == 1);

      etcdAway.set(false);
      await().atMost(LiveAnnotations.RESCAN.plusSeconds(10)).until(() -> runs().size() == 2);
      assertThat(runs().get(1)).startsWith("input=" + INPUT + " file=").contains("\"nats.unity3d.com/config\":\"v2\"");
      // released once: later re-scans re-run nothing more
      await().during(LiveAnnotations.RESCAN.plusSeconds(1)).atMost(LiveAnnotations.RESCAN.plusSeconds(3))
          .until(() -> runs().size() == 2);
    } finally {
      automaton.destroy();
      if (!automaton.waitFor(15, TimeUnit.SECONDS)) {
        automaton.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
  }
}
