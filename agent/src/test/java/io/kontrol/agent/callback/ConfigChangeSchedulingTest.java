package io.kontrol.agent.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.agent.testing.VirtualScheduler;
import io.kontrol.agent.watch.Snapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A change of the group's configuration in virtual time: after the term's first run it is applied
 * at once, without the damper, with {@code $CONFIG} and {@code $CONFIG_REVISION} set; an
 * unchanged digest with a new revision still runs.
 */
@Timeout(10)
class ConfigChangeSchedulingTest {
  static final Duration QUIET = Duration.ofSeconds(10);

  final VirtualScheduler time = new VirtualScheduler();
  final AtomicInteger pods = new AtomicInteger();
  final AtomicReference<String> config = new AtomicReference<>();
  final AtomicInteger configRevision = new AtomicInteger();
  final List<Duration> runs = new ArrayList<>();
  final List<String> seen = new ArrayList<>();
  CallbackScheduler scheduler;

  @AfterEach
  void close() {
    scheduler.close();
  }

  void start() {
    scheduler =
        new CallbackScheduler(
            "kontrol/test",
            "pod-1",
            new Damper(QUIET, QUIET.multipliedBy(4)),
            new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60)),
            time,
            time::nanoTime,
            () ->
                new Snapshot(
                    List.of(new Snapshot.Pod("pod-1", 1, "{\"v\":" + pods.get() + "}")),
                    Optional.empty(),
                    100,
                    List.of(),
                    Optional.ofNullable(config.get()),
                    configRevision.get()),
            Optional.of(
                env -> {
                  runs.add(time.elapsed());
                  seen.add(env.get("CONFIG_REVISION") + " " + env.get("CONFIG"));
                  return new CallbackResult(0, false, "{}", "", Duration.ZERO);
                }),
            Map.of("CONFIG", "inherited from the agent's environment: never passed on"),
            (state, members) -> true,
            outcome -> {},
            Settle.none());
  }

  void configure(String doc, int revision) {
    config.set(doc);
    configRevision.set(revision);
    scheduler.configChanged();
    time.runDue();
  }

  @Test
  void aConfigurationChangeAfterTheFirstRunSkipsTheDamper() {
    start();
    scheduler.changed();
    time.runDue();
    time.advance(QUIET);
    assertThat(runs).containsExactly(QUIET);
    assertThat(seen).containsExactly("0 null");

    time.advance(Duration.ofSeconds(3));
    configure("{\"name\":\"A\"}", 7); // same pods, new revision: runs now
    assertThat(runs).containsExactly(QUIET, QUIET.plusSeconds(3));
    assertThat(seen).last().isEqualTo("7 {\"name\":\"A\"}");

    // the same revision again (a watch re-made after an error): nothing to do
    scheduler.configChanged();
    time.runDue();
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).hasSize(2);
  }

  @Test
  void aConfigurationChangeCutsAPendingDamperShort() {
    start();
    scheduler.changed();
    time.runDue();
    time.advance(QUIET);
    pods.incrementAndGet();
    scheduler.changed(); // membership churn: due in 10 s
    time.runDue();
    time.advance(Duration.ofSeconds(1));
    configure("{\"name\":\"B\"}", 9); // applied now, with the new membership too
    assertThat(runs).containsExactly(QUIET, QUIET.plusSeconds(1));
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).hasSize(2);
  }

  @Test
  void theFirstRunOfATermWaitsTheDamperEvenForAConfiguration() {
    start();
    configure("{\"name\":\"C\"}", 4); // the config watch's first notification at the start of a term
    time.advance(QUIET.minusNanos(1));
    assertThat(runs).isEmpty();
    time.advance(Duration.ofNanos(1));
    assertThat(runs).containsExactly(QUIET);
    assertThat(seen).containsExactly("4 {\"name\":\"C\"}");
  }
}
