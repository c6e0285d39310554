package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.agent.testing.EtcdCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * etcd frozen (SIGSTOP) under a leader, then thawed: the agent stays live, turns unready within
 * TTL + 5 s with the failsafe flag up, runs no callback while etcd is away, and is ready again
 * within 10 s of etcd's return.
 */
@Timeout(120)
class FailsafeTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  @TempDir Path dir;

  @Test
  void anEtcdOutageFailsReadinessNotLivenessAndPausesCallbacks() throws Exception {
    String app = Pods.app("failsafe");
    Map<String, String> group = Map.of("group", "default/" + app);
    CallbackLog cb = new CallbackLog(dir);
    Map<String, String> env = cb.into(Pods.env(ETCD, app, app, "f0", "master,slave"));
    env.put("KONTROL_TTL", "3");
    env.put("KONTROL_FOVER", "4");
    env.put("KONTROL_SOCKET", dir.resolve("no-automaton.sock").toString());
    List<Integer> livez = new CopyOnWriteArrayList<>();
    ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "test-livez-prober"));
    try (Observed pod = Observed.start(env)) {
      await().atMost(Duration.ofSeconds(15)).until(() -> pod.status("/readyz") == 200 && cb.count() >= 1);
      assertThat(pod.value("kontrol_failsafe_active", Map.of())).isEqualTo(0.0);
      prober.scheduleWithFixedDelay(
          () -> {
            try {
              livez.add(pod.status("/livez"));
            } catch (Exception e) {
              livez.add(-1);
            }
          },
          0, 200, TimeUnit.MILLISECONDS);

      int callbacks = cb.count();
      long t0 = System.nanoTime();
      ETCD.pause(0);
      try {
        await().atMost(Duration.ofSeconds(3 + 5)).pollInterval(Duration.ofMillis(200)).until(() -> pod.status("/readyz") == 503);
        assertThat(pod.get("/readyz?verbose").body()).contains("[-]etcd failed");
        await().atMost(Duration.ofSeconds(5)).until(() -> pod.value("kontrol_failsafe_active", Map.of()) == 1.0);
        assertThat(pod.value("kontrol_etcd_connected", Map.of())).isEqualTo(0.0);
        // stay away past the TTL, so the registration lease is lost too
        await().pollDelay(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(15))
            .until(() -> System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(3 + 3)
                && pod.value("kontrol_registered", group) == 0.0);
        assertThat(cb.count()).as("no callback while etcd is away").isEqualTo(callbacks);
      } finally {
        ETCD.resume(0);
      }
      long back = System.nanoTime();
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() -> pod.status("/readyz") == 200);
      assertThat(Duration.ofNanos(System.nanoTime() - back)).isLessThan(Duration.ofSeconds(10));
      assertThat(pod.value("kontrol_failsafe_active", Map.of())).isEqualTo(0.0);
      assertThat(pod.value("kontrol_registered", group)).isEqualTo(1.0);
      // shutdown, not shutdownNow: an interrupted in-flight probe would count as a failed /livez
      prober.shutdown();
      assertThat(prober.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
      assertThat(livez).as("/livez throughout").isNotEmpty().containsOnly(200);
    } finally {
      prober.shutdownNow();
    }
  }
}
