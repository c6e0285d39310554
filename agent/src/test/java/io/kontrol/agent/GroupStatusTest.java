package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.agent.cli.KontrolCommand;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * {@code kontrol status --group} on a real 3-member group. Each agent's peer API is reached at its
 * record's IP on one common port, as in a cluster: socat listens on {@code 127.0.0.N:PORT} for
 * each member and forwards to that agent's own port (they share this host's ports).
 */
@Timeout(180)
class GroupStatusTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  @TempDir static Path dir;

  static final ObjectMapper JSON = new ObjectMapper();
  static String app;
  static int port;
  static final List<Observed> pods = new ArrayList<>();
  static final List<Process> forwarders = new ArrayList<>();

  @BeforeAll
  static void group() throws Exception {
    app = Pods.app("grp");
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    CallbackLog cb = new CallbackLog(dir);
    for (int i = 0; i < 3; i++) {
      Map<String, String> env = cb.into(Pods.env(ETCD, app, app, "g" + i, "master,slave"));
      String ip = "127.0.0." + (60 + i);
      env.put("KONTROL_IP", ip);
      env.put("KONTROL_SOCKET", dir.resolve("no-automaton.sock").toString());
      Observed pod = Observed.start(env);
      pods.add(pod);
      forwarders.add(
          new ProcessBuilder(
                  "socat",
                  "TCP-LISTEN:" + port + ",bind=" + ip + ",fork,reuseaddr",
                  "TCP:127.0.0.1:" + pod.peer.port())
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("socat" + i + ".log").toFile())
              .start());
    }
    Group g = Pods.group(app);
    await().atMost(Duration.ofSeconds(20)).until(() -> Pods.leaders(pods.stream().map(p -> p.agent).toList(), g).size() == 1);
    // the leader has called back on the full group
    await().atMost(Duration.ofSeconds(20)).until(() -> cb.last() != null && cb.last().ids().size() == 3);
  }

  @AfterAll
  static void stop() throws Exception {
    for (Process p : forwarders) {
      p.destroy();
      p.waitFor(5, TimeUnit.SECONDS);
    }
    pods.parallelStream().forEach(Observed::close);
  }

  record Run(int code, String out, String err) {}

  static Run status(String... args) {
    Map<String, String> env = new HashMap<>();
    env.put("KONTROL_ETCD", ETCD.endpointList());
    env.put("KONTROL_PORT", Integer.toString(port));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = KontrolCommand.commandLine(new KontrolCommand(env));
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    List<String> argv = new ArrayList<>(List.of("status"));
    argv.addAll(List.of(args));
    int code = cl.execute(argv.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void aHealthyGroupIsATableAndJsonAndYamlAndExitsZero() throws Exception {
    // the leader's last pass must have run on the digest of the complete group
    await().atMost(Duration.ofSeconds(15)).until(() -> status("--group", "default/" + app).code() == 0);
    Run table = status("--group", "default/" + app);
    assertThat(table.code()).as(table.out() + table.err()).isZero();
    String leader = pods.stream().filter(p -> p.agent.status().leads(Pods.group(app))).findFirst().orElseThrow().id();
    assertThat(table.out())
        .startsWith("+ Group default/" + app + " · digest ")
        .contains("leader " + leader, "etcd ok, 1 member", "| Member ", "| Config error |", "| Leader ", "healthy");
    for (int i = 0; i < 3; i++) {
      assertThat(table.out()).contains("| g" + i + " ", "127.0.0." + (60 + i));
    }
    assertThat(table.out().lines().filter(l -> l.contains("| Member | ") || l.matches("\\| g\\d .*"))).hasSize(4);

    Run json = status("--group", app, "--format", "json");
    assertThat(json.code()).isZero();
    JsonNode j = JSON.readTree(json.out());
    assertThat(j.get("group").asText()).isEqualTo("default/" + app);
    assertThat(j.get("leader").asText()).isEqualTo(leader);
    assertThat(j.get("healthy").asBoolean()).isTrue();
    assertThat(j.get("members")).hasSize(3);
    for (JsonNode m : j.get("members")) {
      assertThat(m.get("applied").asBoolean()).isTrue();
      assertThat(m.get("lease_left_s").asLong()).isBetween(0L, 2L);
      assertThat(m.get("role").asText()).isEqualTo(m.get("id").asText().equals(leader) ? "leader" : "member");
    }
    JsonNode lead = j.get("members").findParents("role").stream().filter(m -> m.get("role").asText().equals("leader")).findFirst().orElseThrow();
    assertThat(lead.get("last_callback").asText()).matches("\\d+s ago, ok");

    Run yaml = status("--group", app, "--format", "yaml");
    assertThat(yaml.code()).isZero();
    @SuppressWarnings("unchecked")
    Map<String, Object> y = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(yaml.out());
    assertThat(y).containsEntry("leader", leader).containsEntry("healthy", true);
  }

  @Test
  void aGroupThatDoesNotExistSaysSoAndExitsOne() {
    Run r = status("--group", "default/nosuch" + app);
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("group default/nosuch" + app + " does not exist");
  }

  @Test
  void etcdDownExitsThreeWithinItsTimeout() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    long t0 = System.nanoTime();
    Run r = status("--group", app, "--etcd", "127.0.0.1:" + closed, "--timeout", "2");
    assertThat(r.code()).isEqualTo(3);
    assertThat(r.err()).contains("etcd did not answer within 2000 ms", "127.0.0.1:" + closed);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
  }

  @Test
  void aMemberThatDoesNotAnswerDegradesTheGroupAndWatchRepeats() throws Exception {
    Process third = forwarders.get(2);
    third.destroy();
    third.waitFor(5, TimeUnit.SECONDS);
    try {
      Run r = status("--group", app, "--timeout", "2");
      assertThat(r.code()).as(r.out()).isEqualTo(1);
      assertThat(r.out()).contains("(no answer)", "degraded: g2 does not answer");

      // --watch prints again until interrupted
      StringWriter out = new StringWriter();
      Map<String, String> env = Map.of("KONTROL_ETCD", ETCD.endpointList(), "KONTROL_PORT", Integer.toString(port));
      picocli.CommandLine cl = KontrolCommand.commandLine(new KontrolCommand(env));
      cl.setOut(new PrintWriter(out, true));
      Thread[] runner = new Thread[1];
      CompletableFuture<Integer> done = new CompletableFuture<>();
      runner[0] = new Thread(() -> done.complete(cl.execute("status", "--group", app, "--watch", "0.2", "--timeout", "2")), "test-watch");
      runner[0].start();
      await().atMost(Duration.ofSeconds(20)).until(() -> out.toString().split("\\+ Group ", -1).length > 2);
      runner[0].interrupt();
      assertThat(done.get(10, TimeUnit.SECONDS)).isEqualTo(1);
    } finally {
      Observed pod = pods.get(2);
      forwarders.set(2, new ProcessBuilder("socat", "TCP-LISTEN:" + port + ",bind=127.0.0.62,fork,reuseaddr", "TCP:127.0.0.1:" + pod.peer.port())
          .redirectErrorStream(true).redirectOutput(dir.resolve("socat2b.log").toFile()).start());
    }
  }
}
