package io.kontrol.automaton.machine;

import static org.awaitility.Awaitility.await;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kontrol.automaton.manifest.Glob;
import io.kontrol.automaton.manifest.Manifest;
import io.kontrol.automaton.manifest.StateSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The machine in-process (no socket): ordering, shutdown and close. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MachineTest {

  @TempDir Path dir;

  private Manifest manifest(String appendScript, boolean force) {
    String out = dir.resolve("out.txt").toString();
    return Manifest.of("idle", "end", List.of(
        new StateSpec("idle", Optional.empty(), List.of(Glob.of("*")), false, 0),
        new StateSpec("append", Optional.of(appendScript.replace("OUT", out)), List.of(Glob.of("*")), force, 0),
        new StateSpec("end", Optional.of("echo end >> " + out), List.of(), false, 0)));
  }

  @Test
  void transitionsRunInTheOrderTheyWereQueued() throws Exception {
    try (Machine m = new Machine(manifest("echo \"$INPUT\" >> OUT", true), MachineSettings.defaults(), dir.resolve("sock"))) {
      m.start();
      List<CompletableFuture<Boolean>> acks = new ArrayList<>();
      List<CompletableFuture<Boolean>> waits = new ArrayList<>();
      for (int i = 1; i <= 100; i++) {
        if (i % 10 == 0) {
          waits.add(m.transition("append", String.valueOf(i), Machine.Mode.WAIT));
        } else {
          acks.add(m.transition("append", String.valueOf(i), Machine.Mode.GOTO));
        }
      }
      for (CompletableFuture<Boolean> a : acks) {
        assertThat(a.get(5, TimeUnit.SECONDS)).isTrue();
      }
      for (CompletableFuture<Boolean> w : waits) {
        assertThat(w.get(30, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(Files.readAllLines(dir.resolve("out.txt")))
          .containsExactlyElementsOf(IntStream.rangeClosed(1, 100).mapToObj(String::valueOf).collect(Collectors.toList()));
    }
  }

  @Test
  void shutdownDropsPendingTransitionsAndEndsInTheTerminalState() throws Exception {
    try (Machine m = new Machine(manifest("sleep 0.3; echo \"$INPUT\" >> OUT", true), MachineSettings.defaults(), dir.resolve("sock"))) {
      m.start();
      CompletableFuture<Boolean> first = m.transition("append", "first", Machine.Mode.WAIT);
      List<CompletableFuture<Boolean>> pending = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        pending.add(m.transition("append", "pending" + i, Machine.Mode.WAIT));
      }
      // the first script runs (it is force: shutdown waits for it); the others are still queued
      await().atMost(Duration.ofSeconds(5)).until(() -> "append".equals(m.state()));
      CompletableFuture<Void> done = m.shutdown("test");
      for (CompletableFuture<Boolean> p : pending) {
        assertThat(p.get(5, TimeUnit.SECONDS)).isFalse();
      }
      assertThat(first.get(5, TimeUnit.SECONDS)).as("a force script is waited for").isTrue();
      done.get(10, TimeUnit.SECONDS);
      assertThat(m.state()).isEqualTo("end");
      assertThat(Files.readAllLines(dir.resolve("out.txt"))).containsExactly("first", "end");
      assertThat(m.transition("idle", "", Machine.Mode.GOTO).get(5, TimeUnit.SECONDS)).isFalse();
    }
  }

  @Test
  void closeKillsTheRunningScriptsProcessGroup() throws Exception {
    Machine m = new Machine(manifest("echo $$ > OUT; sleep 300", false), MachineSettings.defaults(), dir.resolve("sock"));
    m.start();
    CompletableFuture<Boolean> wait = m.transition("append", "", Machine.Mode.WAIT);
    Path out = dir.resolve("out.txt");
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(out) && !Files.readString(out).isBlank());
    long pid = Long.parseLong(Files.readString(out).trim());
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);
    long t0 = System.nanoTime();
    m.close();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
    assertThat(wait.get(1, TimeUnit.SECONDS)).isFalse();
    await("the script's process is gone").atMost(Duration.ofSeconds(5))
        .until(() -> !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    assertThat(m.lifecycle()).isEqualTo(Machine.Lifecycle.CLOSED);
    assertThat(m.terminated()).isDone();
  }

  @Test
  void startTwiceFailsLoudly() {
    try (Machine m = new Machine(manifest("true", false), MachineSettings.defaults(), dir.resolve("sock"))) {
      m.start();
      assertThatThrownBy(m::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("STARTED");
    }
  }

  @Test
  void settingsAreValidated() {
    assertThatThrownBy(() -> MachineSettings.newBuilder().settle(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> MachineSettings.newBuilder().maxQueue(0)).isInstanceOf(IllegalArgumentException.class);
    assertThat(MachineSettings.defaults().settle()).isEqualTo(Duration.ofSeconds(1));
  }
}
