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

  /** Starts pods p0..p(n-1) of {@code app} into {@code agents}; returns once the leader called back with all. */
  private void startGroup(CallbackLog cb, String app, int n, List<Agent> agents) {
    for (int i = 0; i < n; i++) {
      agents.add(Pods.start(pod(cb, app, "p" + i)));
    }
    await().atMost(Duration.ofSeconds(15)).until(() -> cb.last() != null && cb.last().ids().size() == n);
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
      startGroup(cb, app, 3, agents);
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

  /**
   * The leader's pod alone is cut off from etcd (its only member frozen) in the middle of a
   * callback that keeps acting: the callback is killed before the election lease can expire at
   * etcd, so the old leader's last act comes before its key is deleted, and a successor calls back.
   * The cut-off leader never acts again (no callback, no state write), also after it is back.
   */
  @Test
  void aLeaderCutOffFromEtcdStopsActingBeforeItsLeaseExpiresAndASuccessorTakesOver() throws Exception {
    String app = Pods.app("cut");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    cb.mode("tick");
    Map<String, String> env = pod(cb, app, "cut");
    env.put("KONTROL_ETCD", ETCD.endpoint(0));
    List<Agent> agents = new ArrayList<>();
    java.util.concurrent.atomic.AtomicLong keyDeleted = new java.util.concurrent.atomic.AtomicLong();
    try (Client others = Client.builder().endpoints(ETCD.endpoint(1), ETCD.endpoint(2)).build()) {
      Agent cut = Pods.start(env);
      agents.add(cut);
      await().atMost(Duration.ofSeconds(20)).until(() -> cb.ticks().stream().anyMatch(t -> t.by().equals("cut")));
      String key = cut.status().leads(g) ? new String(ETCD.client().getElectionClient().leader(Pods.bytes(g.leaderKey()))
          .get(5, TimeUnit.SECONDS).getKv().getKey().getBytes(), StandardCharsets.UTF_8) : null;
      assertThat(key).as("the cut-off pod leads").isNotNull();
      // the successor's callbacks end
      cb.mode("ok");
      Map<String, String> b = pod(cb, app, "b");
      b.put("KONTROL_ETCD", ETCD.endpoint(1) + "," + ETCD.endpoint(2));
      Map<String, String> c = pod(cb, app, "c");
      c.put("KONTROL_ETCD", ETCD.endpoint(1) + "," + ETCD.endpoint(2));
      agents.add(Pods.start(b));
      agents.add(Pods.start(c));
      await().atMost(Duration.ofSeconds(15)).until(() -> Pods.records(others, g).size() == 3);
      others.getWatchClient().watch(Pods.bytes(key), io.etcd.jetcd.options.WatchOption.builder().withNoPut(true).build(),
          resp -> {
            if (!resp.getEvents().isEmpty()) {
              keyDeleted.compareAndSet(0, System.currentTimeMillis());
            }
          });
      String stateBefore = Pods.value(others, g.stateKey());

      long cutAt = System.currentTimeMillis();
      ETCD.pause(0);
      try {
        await().atMost(Duration.ofSeconds(3 + 1 + 10))
            .until(() -> cb.calls().stream().anyMatch(x -> !x.by().equals("cut") && x.atMillis() > cutAt));
        CallbackLog.Call successor = cb.calls().stream().filter(x -> !x.by().equals("cut")).findFirst().orElseThrow();
        // FOVER 3 + damper 1 + a few seconds
        assertThat(successor.atMillis() - cutAt).isLessThan(3_000 + 1_000 + 4_000);
        assertThat(keyDeleted.get()).as("the old leader key is gone").isPositive();
        long lastAct = cb.ticks().stream().filter(t -> t.by().equals("cut")).mapToLong(CallbackLog.Tick::atMillis).max().orElseThrow();
        assertThat(lastAct).as("the cut-off leader's last act, before its key was deleted").isLessThan(keyDeleted.get());
        assertThat(lastAct - cutAt).as("killed at its lease's end, not at the callback timeout").isLessThan(3_000 + 1_000);
        assertThat(cut.status().leads(g)).isFalse();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
          String st = Pods.value(others, g.stateKey());
          return st != null && !st.equals(stateBefore) && st.contains("\"by\":\"" + successor.by() + "\"");
        });
      } finally {
        ETCD.resume(0);
      }
      // back: the old leader is a member again, it never acted since the cut
      await().atMost(Duration.ofSeconds(20)).until(() -> Pods.records(others, g).size() == 3 && Pods.leaders(agents, g).size() == 1);
      await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> !cut.status().leads(g));
      assertThat(cb.calls()).filteredOn(x -> x.by().equals("cut") && x.atMillis() > cutAt).isEmpty();
      assertThat(cb.ticks()).filteredOn(t -> t.by().equals("cut") && t.atMillis() > keyDeleted.get()).isEmpty();
      assertThat(Pods.value(others, g.stateKey())).doesNotContain("\"by\":\"cut\"");
    } finally {
      if (!ETCD.isRunning(0)) {
        ETCD.start(0);
      }
      Pods.closeAll(agents);
    }
  }

  /**
   * etcd frozen whole, longer than FOVER, while the leader's callback keeps failing: no retry and
   * no other callback starts while etcd is away, nothing is written; after it the group converges.
   */
  @Test
  void whileEtcdIsUnreachableNoCallbackOrRetryRuns() throws Exception {
    String app = Pods.app("frozen");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    List<Agent> agents = new ArrayList<>();
    try {
      startGroup(cb, app, 3, agents);
      // the first run's state write may land just after the group has formed
      await().atMost(Duration.ofSeconds(15)).until(() -> Pods.get(ETCD.client(), g.stateKey()) != null);
      long stateRevision = Pods.get(ETCD.client(), g.stateKey()).getModRevision();
      cb.mode("fail");
      // a change, so that the leader runs (and fails, and retries)
      agents.add(Pods.start(pod(cb, app, "p3")));
      await().atMost(Duration.ofSeconds(15)).until(() -> cb.calls().stream().filter(x -> x.ids().size() == 4).count() >= 2);

      for (int i = 0; i < 3; i++) {
        ETCD.pause(i);
      }
      long frozen = System.currentTimeMillis();
      try {
        // a run that read the group just before the freeze logs its start within moments
        int[] seen = {cb.count()};
        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(300)).until(() -> {
          int n = cb.count();
          boolean same = n == seen[0];
          seen[0] = n;
          return same;
        });
        int before = seen[0];
        // past FOVER 3 s and the 2 s TTL: every lease expires, retries come due
        await().during(Duration.ofSeconds(6)).atMost(Duration.ofSeconds(8)).until(() -> cb.count() == before);
        assertThat(Pods.leaders(agents, g)).as("no leader once its lease is gone").isEmpty();
      } finally {
        for (int i = 0; i < 3; i++) {
          ETCD.resume(i);
        }
      }
      assertThat(System.currentTimeMillis() - frozen).isGreaterThan(6_000);
      cb.mode("ok");
      await().atMost(Duration.ofSeconds(30)).until(() -> cb.last().ids().size() == 4
          && Pods.get(ETCD.client(), g.stateKey()).getModRevision() > stateRevision
          && Pods.value(ETCD.client(), g.stateKey()).contains(cb.last().md5()));
      assertThat(Pods.leaders(agents, g)).hasSize(1);
    } finally {
      Pods.closeAll(agents);
    }
  }

  /**
   * etcd loses the group's data (every key and lease gone, as an etcd rebuilt empty): the pods
   * register again with seqs handed out afresh, a newcomer gets a seq of its own (no two live
   * pods share one), a leader is elected and calls back with the whole group.
   */
  @Test
  void anEtcdThatLostItsDataIsRepopulatedWithUniqueSeqs() throws Exception {
    String app = Pods.app("wipe");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    List<Agent> agents = new ArrayList<>();
    try {
      startGroup(cb, app, 3, agents);

      Client etcd = ETCD.client();
      // every key under the group, then its leases (records, leader keys): as an etcd rebuilt empty
      Set<Long> leases = new HashSet<>();
      etcd.getKVClient().get(Pods.bytes(g.prefix()), io.etcd.jetcd.options.GetOption.builder().isPrefix(true).build())
          .get(5, TimeUnit.SECONDS).getKvs().forEach(kv -> leases.add(kv.getLease()));
      leases.remove(0L);
      assertThat(leases).hasSizeGreaterThanOrEqualTo(4);
      etcd.getKVClient().delete(Pods.bytes(g.prefix()), io.etcd.jetcd.options.DeleteOption.builder().isPrefix(true).build())
          .get(5, TimeUnit.SECONDS);
      for (long lease : leases) {
        etcd.getLeaseClient().revoke(lease).get(5, TimeUnit.SECONDS);
      }
      long wiped = System.currentTimeMillis();
      await().atMost(Duration.ofSeconds(20)).until(() -> seqs(g).size() == 3 && Pods.leaders(agents, g).size() == 1);
      agents.add(Pods.start(pod(cb, app, "p3")));
      await().atMost(Duration.ofSeconds(20)).until(() -> seqs(g).size() == 4);
      assertThat(new HashSet<>(seqs(g).values())).as("one seq per live pod: " + seqs(g)).hasSize(4);
      await().atMost(Duration.ofSeconds(20))
          .until(() -> cb.calls().stream().anyMatch(c -> c.atMillis() > wiped && c.ids().size() == 4));
      assertThat(Pods.leaders(agents, g)).hasSize(1);
      // the state, written once the run has ended
      await().atMost(Duration.ofSeconds(10)).until(() -> Pods.value(etcd, g.stateKey()) != null);
    } finally {
      Pods.closeAll(agents);
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
