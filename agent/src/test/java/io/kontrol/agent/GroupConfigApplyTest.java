package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.agent.group.Group;
import io.kontrol.agent.groupconfig.GroupConfig;
import io.kontrol.agent.groupconfig.GroupConfigStore;
import io.kontrol.agent.testing.EtcdCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leader applies the group's configuration at once: a put runs the callback with {@code
 * $CONFIG} and {@code $CONFIG_REVISION} without waiting for the damper, and a new leader's first
 * run carries it too. Real etcd, real agents, a shell callback.
 */
@Timeout(120)
class GroupConfigApplyTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  @TempDir Path dir;
  final List<Agent> agents = new ArrayList<>();

  @AfterEach
  void stop() {
    agents.parallelStream().forEach(Agent::close);
  }

  Agent start(String app, String id, Path calls) {
    Map<String, String> env = Pods.env(ETCD, app, app, id, "master,slave");
    env.put("KONTROL_DAMPER", "5");
    env.put("KONTROL_CALLBACK", "echo \"$(date +%s%3N) $KONTROL_ID $CONFIG_REVISION $CONFIG\" >> " + calls
        + "; echo \"{\\\"config_revision\\\": $CONFIG_REVISION, \\\"config_status\\\": \\\"applied\\\"}\"");
    Agent a = Pods.start(env);
    agents.add(a);
    return a;
  }

  record Call(long atMillis, String by, long revision, String config) {}

  static List<Call> calls(Path f) throws Exception {
    List<Call> out = new ArrayList<>();
    if (Files.exists(f)) {
      for (String line : Files.readAllLines(f)) {
        String[] p = line.split(" ", 4);
        if (p.length >= 3) {
          out.add(new Call(Long.parseLong(p[0]), p[1], Long.parseLong(p[2]), p.length > 3 ? p[3] : ""));
        }
      }
    }
    return out;
  }

  @Test
  void aPutIsAppliedAtOnceAndANewLeaderStartsWithIt() throws Exception {
    String app = Pods.app("gcfg");
    Group g = Pods.group(app);
    Path calls = dir.resolve("calls");
    Agent first = start(app, "a0", calls);
    // the term's first run waits the damper (5 s), as always
    await().atMost(Duration.ofSeconds(20)).until(() -> calls(calls).size() == 1);
    assertThat(calls(calls).get(0).revision()).isZero();

    GroupConfigStore store = new GroupConfigStore(ETCD.client().getKVClient(), Duration.ofSeconds(5));
    long put = System.currentTimeMillis();
    long rev = store.put(g, GroupConfig.parse("{\"name\":\"CLUSTER_A\",\"routes\":[\"nats://10.9.9.9:4244\"]}"));
    await().atMost(Duration.ofSeconds(4)).until(() -> calls(calls).size() == 2);
    Call applied = calls(calls).get(1);
    assertThat(applied.revision()).isEqualTo(rev);
    assertThat(applied.config()).isEqualTo("{\"name\":\"CLUSTER_A\",\"routes\":[\"nats://10.9.9.9:4244\"]}");
    // well inside the 5 s damper
    assertThat(applied.atMillis() - put).isLessThan(2000);

    // a second pod joins (damped), the leader leaves: the successor's first run has the configuration
    start(app, "a1", calls);
    await().atMost(Duration.ofSeconds(20)).until(() -> calls(calls).size() >= 3);
    first.close();
    await().atMost(Duration.ofSeconds(30)).until(() -> calls(calls).stream().anyMatch(c -> c.by().equals("a1")));
    Call successor = calls(calls).stream().filter(c -> c.by().equals("a1")).findFirst().orElseThrow();
    assertThat(successor.revision()).isEqualTo(rev);
    assertThat(successor.config()).contains("CLUSTER_A");

    long rev2 = store.put(g, GroupConfig.parse("{\"name\":\"CLUSTER_B\"}"));
    await().atMost(Duration.ofSeconds(4)).until(() -> calls(calls).stream().anyMatch(c -> c.revision() == rev2));
    assertThat(calls(calls).stream().filter(c -> c.revision() == rev2).findFirst().orElseThrow().by()).isEqualTo("a1");

    // kontrol status --group shows the stored revision and what the leader's state says of it
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              java.io.StringWriter out = new java.io.StringWriter();
              picocli.CommandLine cl =
                  io.kontrol.agent.cli.KontrolCommand.commandLine(
                      new io.kontrol.agent.cli.KontrolCommand(Map.of("KONTROL_ETCD", ETCD.endpointList())));
              cl.setOut(new java.io.PrintWriter(out));
              cl.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
              cl.execute("status", "--group", app, "--timeout", "1");
              assertThat(out.toString()).contains(" · config rev " + rev2 + " applied");
            });
  }
}
