package io.kontrol.agent.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.agent.testing.VirtualScheduler;
import io.kontrol.agent.watch.Snapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Recovery without a flap, in virtual time: after etcd answers again, the leader's run waits for
 * the members of its last successful run (what it wrote to {@code G/members}) to register again,
 * or for a TTL to pass since etcd came back; with no outage it never waits.
 */
@Timeout(30)
class SettleTest {
  static final Duration QUIET = Duration.ofSeconds(2);
  static final Duration TTL = Duration.ofSeconds(10);

  final VirtualScheduler time = new VirtualScheduler();
  /** The live records' ids as etcd has them now. */
  final List<String> live = new CopyOnWriteArrayList<>();
  /** G/members: written with each state. */
  final List<String> members = new CopyOnWriteArrayList<>();
  final AtomicLong outageEnded = new AtomicLong(Settle.NONE);
  final List<Duration> runs = new ArrayList<>();
  final List<List<String>> seen = new ArrayList<>();
  CallbackScheduler scheduler;

  void start() {
    start(new Settle(QUIET, TTL, outageEnded::get));
  }

  void start(Settle settle) {
    scheduler =
        new CallbackScheduler(
            "kontrol/test",
            "leader",
            new Damper(QUIET, QUIET.multipliedBy(4)),
            new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(60)),
            time,
            time::nanoTime,
            this::snapshot,
            Optional.of(
                env -> {
                  runs.add(time.elapsed());
                  seen.add(List.copyOf(live));
                  return new CallbackResult(0, false, "{}", "", Duration.ZERO);
                }),
            Map.of(),
            (state, ids) -> {
              members.clear();
              members.addAll(ids);
              return true;
            },
            outcome -> {},
            settle);
  }

  /** A leader that registers in the group it leads, its term starting now. */
  void startRegisteringLeader() {
    start(new Settle(QUIET, TTL, outageEnded::get, Optional.of("leader"), time.nanoTime()));
  }

  Snapshot snapshot() {
    List<Snapshot.Pod> pods = new ArrayList<>();
    for (String id : live) {
      pods.add(new Snapshot.Pod(id, pods.size(), "{\"id\":\"" + id + "\"}"));
    }
    return new Snapshot(pods, Optional.empty(), 1, members);
  }

  /** The group is {@code ids} now, and the watch says so. */
  void group(String... ids) {
    live.clear();
    live.addAll(List.of(ids));
    scheduler.changed();
    time.runDue();
  }

  /** The group ran once on a, b, c; then etcd was away (every record expired) and is back now. */
  void configuredThenOutage() {
    start();
    group("a", "b", "c");
    time.advance(QUIET);
    assertThat(runs).hasSize(1);
    assertThat(members).containsExactly("a", "b", "c");
    runs.clear();
    seen.clear();
    live.clear();
    outageEnded.set(time.nanoTime());
  }

  @AfterEach
  void close() {
    if (scheduler != null) {
      scheduler.close();
    }
  }

  static Duration s(double seconds) {
    return Duration.ofMillis(Math.round(seconds * 1000));
  }

  @Test
  void afterAnOutageThePartialGroupSeenFirstIsNotActedOn() {
    configuredThenOutage();
    Duration t0 = time.elapsed();
    group("a", "b"); // the first two are back at once
    time.advance(s(3)); // damped at 2 s: c is missing, so it waits
    assertThat(runs).isEmpty();
    group("a", "b", "c"); // c is back 3 s after etcd
    time.advance(Duration.ofMinutes(1));
    // the whole group as before: its digest is the one that last succeeded, nothing runs
    assertThat(runs).isEmpty();
    assertThat(time.elapsed().minus(t0)).isGreaterThan(TTL);
  }

  @Test
  void aMemberThatDoesNotComeBackIsGivenUpATtlAfterEtcdReturned() {
    configuredThenOutage();
    Duration t0 = time.elapsed();
    group("a", "b");
    time.advance(TTL.minusNanos(1));
    assertThat(runs).isEmpty();
    time.advance(Duration.ofNanos(1));
    assertThat(runs).containsExactly(t0.plus(TTL));
    assertThat(seen).containsExactly(List.of("a", "b"));
    assertThat(members).containsExactly("a", "b");
  }

  @Test
  void aNewMemberAfterTheOutageIsActedOnOnceTheOldOnesAreBack() {
    configuredThenOutage();
    Duration t0 = time.elapsed();
    group("a", "b", "d");
    time.advance(s(1));
    group("a", "b", "d", "c"); // c back 1 s after etcd: damped from this change
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).containsExactly(t0.plus(s(1)).plus(QUIET));
    assertThat(seen).containsExactly(List.of("a", "b", "d", "c"));
  }

  @Test
  void withoutAnOutageAMissingMemberIsDroppedAfterTheDamperAlone() {
    start();
    group("a", "b", "c");
    time.advance(QUIET);
    Duration t0 = time.elapsed();
    group("a", "b");
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).hasSize(2);
    assertThat(runs.get(1)).isEqualTo(t0.plus(QUIET));
  }

  @Test
  void settleAloneWaitsAtLeastTheDamperAfterEtcdIsBack() {
    Settle settle = new Settle(QUIET, TTL, () -> 0L);
    Snapshot whole = new Snapshot(List.of(new Snapshot.Pod("a", 0, "{}")), Optional.empty(), 1, List.of("a"));
    assertThat(settle.remaining(whole, s(0.5).toNanos())).contains(s(1.5));
    assertThat(settle.remaining(whole, QUIET.toNanos())).isEmpty();
    Snapshot partial = new Snapshot(List.of(), Optional.empty(), 1, List.of("a"));
    assertThat(settle.remaining(partial, QUIET.toNanos())).contains(TTL.minus(QUIET));
    assertThat(settle.remaining(partial, TTL.toNanos())).isEmpty();
    assertThat(Settle.none().remaining(partial, 0)).isEmpty();
  }

  @Test
  void aLeaderThatRegistersInItsGroupDoesNotActOnAGroupReadBeforeItsOwnRecord() {
    startRegisteringLeader();
    Duration t0 = time.elapsed();
    group("a", "b"); // the view's first read: the leader's own put is not in yet
    time.advance(s(5));
    assertThat(runs).isEmpty();
    group("a", "b", "leader"); // its record's event, 5 s into the term
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).containsExactly(t0.plus(s(5)).plus(QUIET));
    assertThat(seen).containsExactly(List.of("a", "b", "leader"));
  }

  @Test
  void aLeaderWhoseOwnRecordNeverAppearsActsATtlIntoItsTerm() {
    startRegisteringLeader();
    Duration t0 = time.elapsed();
    group(); // an empty group, and the registration keeps failing
    time.advance(TTL.minusNanos(1));
    assertThat(runs).isEmpty();
    time.advance(Duration.ofNanos(1));
    assertThat(runs).containsExactly(t0.plus(TTL));
  }

  @Test
  void aLeaderThatDoesNotRegisterInItsGroupActsAfterTheDamperAlone() {
    start(new Settle(QUIET, TTL, outageEnded::get, Optional.empty(), time.nanoTime()));
    Duration t0 = time.elapsed();
    group("a");
    time.advance(Duration.ofMinutes(1));
    assertThat(runs).containsExactly(t0.plus(QUIET));
  }

  @Test
  void awaitingSelfIsEmptyOnceTheRecordIsInOrATtlHasPassed() {
    Settle settle = new Settle(QUIET, TTL, () -> Settle.NONE, Optional.of("me"), 0);
    Snapshot without = new Snapshot(List.of(new Snapshot.Pod("a", 0, "{}")), Optional.empty(), 1, List.of());
    Snapshot with = new Snapshot(List.of(new Snapshot.Pod("me", 0, "{}")), Optional.empty(), 1, List.of());
    assertThat(settle.awaitingSelf(without, s(3).toNanos())).contains(TTL.minus(s(3)));
    assertThat(settle.awaitingSelf(with, s(3).toNanos())).isEmpty();
    assertThat(settle.awaitingSelf(without, TTL.toNanos())).isEmpty();
    assertThat(Settle.none().awaitingSelf(without, 0)).isEmpty();
  }
}
