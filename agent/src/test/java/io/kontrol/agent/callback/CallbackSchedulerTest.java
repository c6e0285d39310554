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
 * The leader's callback timing in virtual time: the damper's one run per burst, the retry backoff
 * after failures, and a change during a run. No real time passes; every instant is exact.
 */
@Timeout(10)
class CallbackSchedulerTest {
  static final Duration QUIET = Duration.ofSeconds(10);
  static final Duration MAX = Duration.ofSeconds(40);

  final VirtualScheduler time = new VirtualScheduler();
  final AtomicInteger version = new AtomicInteger();
  /** The virtual instant of each callback run, and what it saw. */
  final List<Duration> runs = new ArrayList<>();
  final List<String> seen = new ArrayList<>();
  final List<String> written = new ArrayList<>();
  final AtomicReference<Callback> behaviour = new AtomicReference<>(env -> ok());
  CallbackScheduler scheduler;

  CallbackScheduler start() {
    scheduler =
        new CallbackScheduler(
            "kontrol/test",
            "pod-1",
            new Damper(QUIET, MAX),
            new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60)),
            time,
            time::nanoTime,
            () -> snapshot(version.get()),
            Optional.of(
                env -> {
                  runs.add(time.elapsed());
                  seen.add(env.get("PODS"));
                  return behaviour.get().run(env);
                }),
            Map.of(),
            (state, members) -> written.add(state),
            outcome -> {},
            Settle.none());
    return scheduler;
  }

  @AfterEach
  void close() {
    if (scheduler != null) {
      scheduler.close();
    }
  }

  static Snapshot snapshot(int v) {
    return new Snapshot(List.of(new Snapshot.Pod("pod-1", 1, "{\"v\":" + v + "}")), Optional.empty(), v + 1);
  }

  static CallbackResult ok() {
    return new CallbackResult(0, false, "{\"ok\":true}", "", Duration.ZERO);
  }

  static CallbackResult failed() {
    return new CallbackResult(1, false, "", "boom", Duration.ZERO);
  }

  /** The group changes (a new version to read) and the watch says so. */
  void change() {
    version.incrementAndGet();
    scheduler.changed();
    time.runDue();
  }

  static Duration s(double seconds) {
    return Duration.ofMillis(Math.round(seconds * 1000));
  }

  @Test
  void aBurstGivesOneCallbackOnceTheGroupIsQuiet() {
    start();
    change(); // t = 0
    time.advance(s(2));
    change(); // 2
    time.advance(s(2.5));
    change(); // 4.5: due at min(4.5 + 10, 0 + 40)
    time.advance(s(10).minusNanos(1));
    assertThat(runs).isEmpty();
    time.advance(Duration.ofNanos(1));
    assertThat(runs).containsExactly(s(14.5));
    time.advance(Duration.ofMinutes(5));
    assertThat(runs).hasSize(1);
    assertThat(seen).containsExactly("[{\"v\":3}]");
    assertThat(written).containsExactly("{\"ok\":true}");
  }

  @Test
  void constantChurnStillGivesOneCallbackAtTheMaxAfterTheFirstChange() {
    start();
    for (int i = 0; i < 8; i++) { // a change every 5 s from 0 to 35: never quiet for 10 s
      change();
      time.advance(s(5));
    }
    assertThat(runs).containsExactly(s(40)); // min(35 + 10, 0 + 40)
    assertThat(seen).containsExactly("[{\"v\":8}]");
    time.advance(Duration.ofMinutes(5));
    assertThat(runs).hasSize(1);
  }

  @Test
  void failuresAreRetriedAfterOneTwoAndFourSeconds() {
    AtomicInteger calls = new AtomicInteger();
    behaviour.set(env -> calls.incrementAndGet() <= 3 ? failed() : ok());
    start();
    change();
    time.advance(Duration.ofMinutes(5));
    assertThat(runs).containsExactly(s(10), s(11), s(13), s(17));
    assertThat(written).containsExactly("{\"ok\":true}");
  }

  @Test
  void theBackoffDoublesUpToItsCapAndNeverStops() {
    behaviour.set(env -> failed());
    start();
    change();
    time.advance(s(10 + 1 + 2 + 4 + 8 + 16 + 32 + 60 + 60));
    assertThat(runs)
        .containsExactly(s(10), s(11), s(13), s(17), s(25), s(41), s(73), s(133), s(193));
    assertThat(written).isEmpty();
  }

  @Test
  void aChangeDuringARunGivesExactlyOneMoreRun() {
    AtomicInteger calls = new AtomicInteger();
    behaviour.set(
        env -> {
          if (calls.incrementAndGet() == 1) {
            version.incrementAndGet(); // the group changes while the callback runs,
            scheduler.changed(); // and the watch reports it twice
            scheduler.changed();
          }
          return ok();
        });
    start();
    change();
    time.advance(Duration.ofMinutes(5));
    // the second run is damped from the change, which came at 10 s (the run took no virtual time)
    assertThat(runs).containsExactly(s(10), s(20));
    assertThat(seen).containsExactly("[{\"v\":1}]", "[{\"v\":2}]");
    assertThat(written).hasSize(2);
  }

  @Test
  void aChangeDuringTheBackoffSupersedesTheRetryAndStartsTheBackoffAgain() {
    AtomicInteger calls = new AtomicInteger();
    behaviour.set(env -> calls.incrementAndGet() <= 2 ? failed() : ok());
    start();
    change();
    time.advance(s(10.5)); // failed at 10; the retry would be at 11
    change(); // at 10.5: damped again, due at 20.5
    time.advance(Duration.ofMinutes(5));
    assertThat(runs).containsExactly(s(10), s(20.5), s(21.5)); // 1 s again, not 2
  }

  @Test
  void aChangeThatLeavesTheGroupAsItWasRunsNothing() {
    start();
    change();
    time.advance(QUIET);
    assertThat(runs).hasSize(1);
    scheduler.changed(); // e.g. a re-watch: same group
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).hasSize(1);
  }

  @Test
  void closingStopsEveryPendingRun() {
    start();
    change();
    scheduler.close();
    scheduler.changed(); // after close: ignored, no exception
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).isEmpty();
    assertThat(time.isTerminated()).isTrue();
  }
}
