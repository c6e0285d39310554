package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.kontrol.agent.election.LeaderElection;
import io.kontrol.agent.election.Leadership;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Faults on a 3-member etcd: a killed leader process, member restarts, a full outage. */
@Timeout(240)
class FaultTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(3).build();
  @TempDir Path dir;

  private Map<String, String> pod(CallbackLog cb, String app, String id) {
    Map<String, String> env = cb.into(Pods.env(ETCD, app, app, id, "master,slave"));
    env.put("KONTROL_DAMPER", "1");
    return env;
  }

  /** Who holds the election of {@code g}, by its proposal (the pod id); null when nobody. */
  private static String leaderOf(Group g) {
    try {
      return ETCD.client().getElectionClient()
          .leader(Pods.bytes(g.leaderKey()))
          .get(3, TimeUnit.SECONDS)
          .getKv()
          .getValue()
          .toString(StandardCharsets.UTF_8);
    } catch (Exception e) {
      return null;
    }
  }

  @Test
  void aSigkilledLeaderIsReplacedAndTheSuccessorCallsBackWithinFoverPlusDamperPlusTwo() throws Exception {
    String app = Pods.app("kill");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    Map<String, String> env = pod(cb, app, "victim");
    Process victim = Pods.kontrolRun(env, dir.resolve("victim.log"));
    List<Agent> agents = new ArrayList<>();
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> "victim".equals(leaderOf(g)));
      agents.add(Pods.start(pod(cb, app, "b")));
      agents.add(Pods.start(pod(cb, app, "c")));
      await().atMost(Duration.ofSeconds(15)).until(() -> cb.last() != null && cb.last().ids().size() == 3);
      assertThat(cb.last().by()).isEqualTo("victim");

      victim.destroyForcibly();
      long t0 = System.currentTimeMillis();
      victim.waitFor(5, TimeUnit.SECONDS);
      // FOVER 3 + damper 1 + 2
      await().atMost(Duration.ofSeconds(6)).until(() -> !cb.last().by().equals("victim"));
      CallbackLog.Call first = cb.calls().stream().filter(c -> !c.by().equals("victim")).findFirst().orElseThrow();
      assertThat(first.atMillis() - t0).isLessThan(6000);
      assertThat(Pods.leaders(agents, g)).hasSize(1);
      // the victim's record goes with its lease; the group converges without it
      await().atMost(Duration.ofSeconds(5)).until(() -> cb.last().ids().size() == 2 && !cb.last().ids().contains("victim"));
    } finally {
      victim.destroyForcibly();
      Pods.closeAll(agents);
    }
  }

  @Test
  void agentsRecoverFromMemberRestartsAndAFullOutageOfTwiceTheTtl() throws Exception {
    String app = Pods.app("outage");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    List<Agent> agents = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        agents.add(Pods.start(pod(cb, app, "p" + i)));
      }
      await().atMost(Duration.ofSeconds(15)).until(() -> cb.last() != null && cb.last().ids().size() == 3);
      Map<String, Long> seqs = seqs(g);
      assertThat(seqs).hasSize(3);

      for (int member = 0; member < 3; member++) {
        ETCD.restart(member);
        await().atMost(Duration.ofSeconds(20)).until(() -> seqs(g).equals(seqs) && Pods.leaders(agents, g).size() == 1);
      }

      ETCD.stopAll();
      // the fault itself: etcd stays down for twice the 2 s TTL (and longer than FOVER 3 s)
      Thread.sleep(4500);
      long restarted = System.currentTimeMillis();
      ETCD.startAll();

      await().atMost(Duration.ofSeconds(30)).until(() -> seqs(g).equals(seqs));
      await().atMost(Duration.ofSeconds(20)).until(() -> Pods.leaders(agents, g).size() == 1);
      await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> Pods.leaders(agents, g).size() == 1);
      Set<Long> distinct = new HashSet<>(seqs(g).values());
      assertThat(distinct).hasSize(3);
      String leader = Pods.leaders(agents, g).get(0).config().id();
      assertThat(leaderOf(g)).isEqualTo(leader);
      // the leader calls back with the whole group once etcd is back
      await().atMost(Duration.ofSeconds(20))
          .until(() -> cb.calls().stream().anyMatch(c -> c.atMillis() > restarted && c.ids().size() == 3));
    } finally {
      Pods.closeAll(agents);
    }
  }

  @Test
  void aWatchCutOffPastACompactionReadsTheGroupAgain() throws Exception {
    String app = Pods.app("compact");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    // the leader talks to member 0 only, so its watch must resume there, after the compaction
    Map<String, String> env = cb.into(Pods.env(ETCD, app, app, "leader", "master,slave"));
    env.put("KONTROL_ETCD", ETCD.endpoint(0));
    env.put("KONTROL_TTL", "10");
    env.put("KONTROL_FOVER", "10");
    List<Agent> agents = new ArrayList<>();
    try {
      agents.add(Pods.start(env));
      Agent s1 = Pods.start(Pods.env(ETCD, "worker", app, "s1", "slave"));
      agents.add(s1);
      await().atMost(Duration.ofSeconds(15)).until(() -> cb.last() != null && cb.last().ids().size() == 2);

      ETCD.stop(0);
      // while the leader is cut off: s1 leaves, s2 joins, and the history is compacted away
      s1.close();
      agents.remove(s1);
      agents.add(Pods.start(Pods.env(ETCD, "worker", app, "s2", "slave")));
      await().atMost(Duration.ofSeconds(15)).until(() -> Pods.records(ETCD.client(), g).containsKey("s2"));
      long rev = ETCD.client().getKVClient().get(Pods.bytes("/")).get(5, TimeUnit.SECONDS).getHeader().getRevision();
      ETCD.client().getKVClient().compact(rev).get(5, TimeUnit.SECONDS);
      ETCD.start(0);

      await().atMost(Duration.ofSeconds(20)).until(() -> cb.last().ids().equals(List.of("leader", "s2")));
    } finally {
      Pods.closeAll(agents);
      if (!ETCD.isRunning(0)) {
        ETCD.start(0);
      }
    }
  }

  @Test
  void theLeaderKeyDeletedWhileItsWatchWasCutOffStillDeposes() throws Exception {
    Group g = Pods.group(Pods.app("keywatch"));
    java.util.concurrent.BlockingQueue<String> events = new java.util.concurrent.LinkedBlockingQueue<>();
    // the candidate talks to member 0 only, so its key watch must resume there, after the compaction
    try (Client solo = Client.builder().endpoints(ETCD.endpoint(0)).build();
        LeaderElection election = new LeaderElection(solo, g, "solo", Duration.ofSeconds(10),
            new LeaderElection.Listener() {
              @Override
              public void elected(Leadership leadership) {
                events.add("elected");
              }

              @Override
              public void deposed(Leadership leadership, String why) {
                events.add("deposed: " + why);
              }
            })) {
      election.start();
      assertThat(events.poll(20, TimeUnit.SECONDS)).isEqualTo("elected");
      String key = election.current().orElseThrow().key();

      ETCD.stop(0);
      try {
        // while the candidate is cut off: its key is deleted and the history compacted away
        ETCD.client().getKVClient().delete(Pods.bytes(key)).get(10, TimeUnit.SECONDS);
        long rev = ETCD.client().getKVClient().get(Pods.bytes("/")).get(10, TimeUnit.SECONDS).getHeader().getRevision();
        ETCD.client().getKVClient().compact(rev).get(10, TimeUnit.SECONDS);
      } finally {
        ETCD.start(0);
      }
      assertThat(events.poll(30, TimeUnit.SECONDS)).isEqualTo("deposed: leader key deleted");
    }
  }

  private static Map<String, Long> seqs(Group g) throws Exception {
    Map<String, Long> out = new HashMap<>();
    for (Map.Entry<String, String> e : Pods.records(ETCD.client(), g).entrySet()) {
      out.put(e.getKey(), CallbackLog.JSON.readTree(e.getValue()).get("seq").asLong());
    }
    return out;
  }
}
