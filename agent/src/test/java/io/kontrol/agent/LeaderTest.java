package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.agent.election.LeaderElection;
import io.kontrol.agent.election.Leadership;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@Timeout(180)
class LeaderTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  @TempDir Path dir;

  private Map<String, String> pod(CallbackLog cb, String app, String id, String damper) {
    Map<String, String> env = cb.into(Pods.env(ETCD, app, app, id, "master,slave"));
    env.put("KONTROL_DAMPER", damper);
    return env;
  }

  @Test
  void oneLeaderAmongThreeAndAGracefulLeaveReachesTheCallbackWithinDamperPlusOneSecond() throws Exception {
    String app = Pods.app("nats");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    List<Agent> agents = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        agents.add(Pods.start(pod(cb, app, "n" + i, "1")));
      }
      await().atMost(Duration.ofSeconds(15)).until(() -> Pods.leaders(agents, g).size() == 1);
      await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> Pods.leaders(agents, g).size() == 1);
      await().atMost(Duration.ofSeconds(15)).until(() -> cb.last() != null && cb.last().ids().size() == 3);
      Agent leader = Pods.leaders(agents, g).get(0);
      assertThat(cb.last().by()).isEqualTo(leader.config().id());
      List<String> bySeq =
          Pods.records(ETCD.client(), g).entrySet().stream()
              .sorted(java.util.Comparator.comparingLong(e -> seqOf(e.getValue())))
              .map(Map.Entry::getKey)
              .toList();
      assertThat(cb.last().ids()).as("ordered by seq").isEqualTo(bySeq);
      assertThat(cb.errors()).as("$PODS_FILE holds $PODS").isEmpty();
      // the state is the callback's stdout, written by the leader
      await().atMost(Duration.ofSeconds(5)).until(() -> leader.status().lastState().isPresent());
      assertThat(Pods.value(ETCD.client(), g.stateKey())).contains(cb.last().md5());

      Agent leaving = agents.stream().filter(a -> a != leader).findFirst().orElseThrow();
      String gone = leaving.config().id();
      leaving.close();
      agents.remove(leaving);
      long t0 = System.currentTimeMillis();
      await().atMost(Duration.ofMillis(2000)).until(() -> !cb.last().ids().contains(gone));
      assertThat(cb.last().atMillis() - t0).isLessThan(2000);
      assertThat(cb.last().ids()).hasSize(2);

      // the leader resigns on close: the other one leads at once, and calls back
      String old = leader.config().id();
      leader.close();
      agents.remove(leader);
      await().atMost(Duration.ofSeconds(2)).until(() -> Pods.leaders(agents, g).size() == 1);
      await().atMost(Duration.ofSeconds(4)).until(() -> cb.last().ids().size() == 1 && !cb.last().by().equals(old));
    } finally {
      Pods.closeAll(agents);
    }
  }

  @Test
  void aBurstOfJoinsWithinTheDamperGivesOneCallback() throws Exception {
    String app = Pods.app("burst");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    List<Agent> agents = new ArrayList<>();
    try {
      Map<String, String> env = pod(cb, app, "leader", "2");
      env.put("KONTROL_DAMPER_MAX", "10");
      agents.add(Pods.start(env));
      await().atMost(Duration.ofSeconds(15)).until(() -> cb.count() == 1);
      agents.parallelStream().count();
      List<Agent> joiners =
          java.util.stream.IntStream.range(0, 5)
              .parallel()
              .mapToObj(i -> Pods.start(Pods.env(ETCD, "worker", app, "w" + i, "slave")))
              .toList();
      agents.addAll(joiners);
      await().atMost(Duration.ofSeconds(10)).until(() -> cb.last().ids().size() == 6);
      await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> cb.count() == 2);
      assertThat(Pods.records(ETCD.client(), g)).hasSize(6);
    } finally {
      Pods.closeAll(agents);
    }
  }

  @Test
  void constantChurnIsCalledBackWithinDamperMax() throws Exception {
    String app = Pods.app("churn");
    CallbackLog cb = new CallbackLog(dir);
    List<Agent> agents = new ArrayList<>();
    ScheduledExecutorService churn = Executors.newSingleThreadScheduledExecutor();
    try {
      Map<String, String> env = pod(cb, app, "leader", "2");
      env.put("KONTROL_DAMPER_MAX", "3");
      agents.add(Pods.start(env));
      Path payload = dir.resolve("payload.json");
      Files.writeString(payload, "{\"n\":0}");
      Map<String, String> slave = Pods.env(ETCD, "worker", app, "w0", "slave");
      slave.put("KONTROL_PAYLOAD", payload.toString());
      agents.add(Pods.start(slave));
      await().atMost(Duration.ofSeconds(15)).until(() -> cb.last() != null && cb.last().ids().size() == 2);
      int before = cb.count();
      // a change every 400 ms for 7 s: the group is never quiet for the 2 s damper
      AtomicInteger n = new AtomicInteger();
      AtomicReference<Long> t0 = new AtomicReference<>();
      churn.scheduleAtFixedRate(
          () -> {
            try {
              if (n.get() < 18) {
                Files.writeString(payload, "{\"n\":" + n.incrementAndGet() + "}");
                t0.compareAndSet(null, System.currentTimeMillis());
              }
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          },
          0,
          400,
          TimeUnit.MILLISECONDS);
      await().atMost(Duration.ofSeconds(6)).until(() -> cb.count() > before);
      long firstCall = cb.calls().get(before).atMillis();
      assertThat(firstCall - t0.get()).as("called back within damper max + 1 s").isBetween(2500L, 4000L);
      assertThat(n.get()).as("while the churn went on").isLessThan(18);
    } finally {
      churn.shutdownNow();
      Pods.closeAll(agents);
    }
  }

  @Test
  void aFailedCallbackKeepsTheStateAndIsRetried() throws Exception {
    String app = Pods.app("fail");
    Group g = Pods.group(app);
    CallbackLog cb = new CallbackLog(dir);
    List<Agent> agents = new ArrayList<>();
    try {
      Map<String, String> env = pod(cb, app, "leader", "0");
      env.put("KONTROL_CALLBACK_TIMEOUT", "1");
      Agent leader = Pods.start(env);
      agents.add(leader);
      await().atMost(Duration.ofSeconds(15)).until(() -> Pods.value(ETCD.client(), g.stateKey()) != null);
      String state = Pods.value(ETCD.client(), g.stateKey());
      assertThat(state).isEqualTo("{\"by\":\"leader\",\"md5\":\"" + cb.last().md5() + "\"}");

      // non-zero exit: state kept, retried on the same digest after a backoff
      cb.mode("fail");
      int c0 = cb.count();
      Agent s1 = Pods.start(Pods.env(ETCD, "worker", app, "s1", "slave"));
      agents.add(s1);
      // the joiner's record may still change once after it registered (a new digest, called
      // afresh): what matters is that a failed call is retried with the digest it failed on
      await().atMost(Duration.ofSeconds(10)).until(() -> retriedOnTheSameDigest(cb.calls(), c0));
      assertThat(Pods.value(ETCD.client(), g.stateKey())).isEqualTo(state);

      // stdout that is not JSON: state kept
      cb.mode("nonjson");
      int c1 = cb.count();
      s1.close();
      agents.remove(s1);
      await().atMost(Duration.ofSeconds(5)).until(() -> cb.count() > c1);
      await().during(Duration.ofMillis(500)).until(() -> state.equals(Pods.value(ETCD.client(), g.stateKey())));

      // a callback that outlives KONTROL_CALLBACK_TIMEOUT: killed, state kept
      cb.mode("slow");
      int c2 = cb.count();
      agents.add(Pods.start(Pods.env(ETCD, "worker", app, "s2", "slave")));
      await().atMost(Duration.ofSeconds(5)).until(() -> cb.count() > c2);
      await().during(Duration.ofMillis(1500)).until(() -> state.equals(Pods.value(ETCD.client(), g.stateKey())));
      assertThat(leader.status().lastState()).contains(state);

      // working again: the next change is stored
      cb.mode("ok");
      agents.add(Pods.start(Pods.env(ETCD, "worker", app, "s3", "slave")));
      await().atMost(Duration.ofSeconds(10)).until(() -> !state.equals(Pods.value(ETCD.client(), g.stateKey())));
      assertThat(Pods.value(ETCD.client(), g.stateKey())).contains(cb.last().md5());
    } finally {
      Pods.closeAll(agents);
    }
  }

  @Test
  void aLeaderThatLostItsLeaseCannotWriteTheState() throws Exception {
    Group g = Pods.group(Pods.app("fence"));
    AtomicReference<Leadership> first = new AtomicReference<>();
    AtomicReference<Leadership> second = new AtomicReference<>();
    try (LeaderElection a = new LeaderElection(ETCD.client(), g, "a", Duration.ofSeconds(3), listener(first)).start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> first.get() != null);
      Leadership term = first.get();
      assertThat(term.writeFenced(g.stateKey(), "{\"v\":1}", Duration.ofSeconds(5))).isTrue();
      try (LeaderElection b = new LeaderElection(ETCD.client(), g, "b", Duration.ofSeconds(3), listener(second)).start()) {
        // a's lease is revoked behind its back (as if it expired while a was paused)
        ETCD.client().getLeaseClient().revoke(term.leaseId()).get(5, TimeUnit.SECONDS);
        assertThat(term.writeFenced(g.stateKey(), "{\"v\":2}", Duration.ofSeconds(5))).isFalse();
        await().atMost(Duration.ofSeconds(10)).until(() -> second.get() != null);
        assertThat(second.get().writeFenced(g.stateKey(), "{\"v\":3}", Duration.ofSeconds(5))).isTrue();
        assertThat(term.writeFenced(g.stateKey(), "{\"v\":4}", Duration.ofSeconds(5))).isFalse();
        assertThat(Pods.value(ETCD.client(), g.stateKey())).isEqualTo("{\"v\":3}");
        await().atMost(Duration.ofSeconds(5)).until(() -> !a.isLeader() || a.current().get() != term);
      }
    }
  }

  private static long seqOf(String json) {
    try {
      return CallbackLog.JSON.readTree(json).get("seq").asLong();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static LeaderElection.Listener listener(AtomicReference<Leadership> ref) {
    return new LeaderElection.Listener() {
      @Override
      public void elected(Leadership leadership) {
        ref.compareAndSet(null, leadership);
      }

      @Override
      public void deposed(Leadership leadership, String why) {}
    };
  }

  /** True when two consecutive calls from index {@code from} on had the same digest. */
  private static boolean retriedOnTheSameDigest(List<CallbackLog.Call> calls, int from) {
    for (int i = from + 1; i < calls.size(); i++) {
      if (calls.get(i).md5().equals(calls.get(i - 1).md5())) {
        return true;
      }
    }
    return false;
  }
}
