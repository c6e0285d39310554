package io.kontrol.automaton.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.automaton.testing.AutomatonProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A newer transition kills a running script's whole process group, unless the state says force. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PreemptionTest {

  static final String MANIFEST = String.join("\n",
      "initial: idle",
      "terminal: end",
      "states:",
      "- tag: idle",
      "  next: ['*']",
      "- tag: busy",
      "  shell: |",
      "    # a child that ignores SIGTERM: only the SIGKILL after the grace period gets it",
      "    sh -c 'trap \"\" TERM; sleep 300' &",
      "    echo $! > child.pid",
      "    echo $$ > parent.pid",
      "    echo busy-started",
      "    sleep 300",
      "    echo busy-finished",
      "  next: ['*']",
      "- tag: forced",
      "  force: true",
      "  shell: |",
      "    echo forced-started",
      "    sleep 3",
      "    echo forced-finished",
      "  next: ['*']",
      "- tag: selfloop",
      "  shell: |",
      "    if [ \"$INPUT\" != again ]; then",
      "      echo GOTO selfloop again | socat - $SOCKET",
      "      sleep 0.3",
      "      echo first-run-finished",
      "    else",
      "      echo second-run",
      "    fi",
      "  next: ['*']",
      "- tag: spawner",
      "  shell: |",
      "    sleep 3 &",
      "    echo spawned",
      "  next: ['*']",
      "- tag: end",
      "  shell: echo end-reached",
      "");

  @TempDir Path dir;
  AutomatonProcess automaton;

  @AfterEach
  void stop() {
    if (automaton != null) {
      automaton.close();
    }
  }

  @Test
  void aNewerTransitionKillsTheScriptAndItsChildrenAfterTheSettlingDelay() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST, "--kill-grace", "0.5");
    assertThat(automaton.send("GOTO busy")).isEqualTo("OK");
    automaton.awaitOutput("busy-started");
    long parent = Long.parseLong(Files.readString(dir.resolve("parent.pid")).trim());
    long child = Long.parseLong(Files.readString(dir.resolve("child.pid")).trim());
    assertThat(alive(parent)).isTrue();
    assertThat(alive(child)).isTrue();
    assertThat(groupMembers(parent)).as("the script runs in a process group of its own").contains(parent, child);

    long t0 = System.nanoTime();
    assertThat(automaton.send("GOTO idle")).as("acknowledged at once").isEqualTo("OK");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(500));
    assertThat(automaton.state()).as("still busy during the settling delay").isEqualTo("busy");

    await().atMost(Duration.ofSeconds(5)).until(() -> "idle".equals(automaton.state()));
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("settling delay").isGreaterThanOrEqualTo(Duration.ofMillis(900));
    await("the script's shell dies of SIGTERM").atMost(Duration.ofSeconds(2)).until(() -> !alive(parent));
    await("the child that ignores SIGTERM dies of SIGKILL").atMost(Duration.ofSeconds(5)).until(() -> !alive(child));
    await().atMost(Duration.ofSeconds(5)).until(() -> groupMembers(parent).isEmpty());
    assertThat(automaton.output())
        .contains("[busy] sending SIGTERM to process group " + parent + " (preempted by idle)")
        .contains("sent SIGKILL to process group " + parent)
        .doesNotContain("busy-finished");
  }

  @Test
  void waitOnAPreemptedScriptAnswersKo() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST, "--kill-grace", "0.5");
    CompletableFuture<String> waiting = CompletableFuture.supplyAsync(() -> {
      try {
        return automaton.send("WAIT busy");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    automaton.awaitOutput("busy-started");
    assertThat(waiting).isNotDone();
    assertThat(automaton.send("GOTO idle")).isEqualTo("OK");
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isEqualTo("KO");
  }

  @Test
  void aForceScriptIsNotKilledTheNextTransitionWaitsForIt() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.send("GOTO forced")).isEqualTo("OK");
    automaton.awaitOutput("forced-started");
    long t0 = System.nanoTime();
    assertThat(automaton.send("GOTO idle")).as("acknowledged at once, queued").isEqualTo("OK");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(500));
    // past the ~1 s settling delay a normal script would be killed: this one must stay throughout
    await().during(Duration.ofMillis(1100)).atMost(Duration.ofSeconds(3))
        .until(() -> "forced".equals(automaton.state()));
    automaton.awaitOutput("forced-finished");
    await().atMost(Duration.ofSeconds(3)).until(() -> "idle".equals(automaton.state()));
    assertThat(automaton.output()).doesNotContain("SIGTERM");
  }

  @Test
  void aScriptMayQueueATransitionToItselfAndStillFinish() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.send("GOTO selfloop")).isEqualTo("OK");
    automaton.awaitOutput("second-run");
    String out = automaton.output();
    assertThat(out.indexOf("first-run-finished")).isPositive().isLessThan(out.indexOf("second-run"));
    assertThat(out).doesNotContain("SIGTERM");
  }

  @Test
  void aScriptIsDoneWhenItsShellExitsEvenIfItLeftAChildRunning() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    long t0 = System.nanoTime();
    assertThat(automaton.send("WAIT spawner")).isEqualTo("OK");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
    assertThat(automaton.output()).contains("spawned");
    assertThat(automaton.send("WAIT idle")).isEqualTo("OK");
  }

  static boolean alive(long pid) {
    // a zombie is dead for our purpose
    try {
      String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
      return !stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
    } catch (IOException e) {
      return false;
    }
  }

  /** Live processes whose process group is {@code pgid}. */
  static List<Long> groupMembers(long pgid) throws IOException {
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      return procs.filter(p -> p.getFileName().toString().matches("\\d+"))
          .filter(p -> {
            try {
              String stat = Files.readString(p.resolve("stat"));
              String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
              return !f[0].equals("Z") && Long.parseLong(f[2]) == pgid;
            } catch (IOException | RuntimeException e) {
              return false;
            }
          })
          .map(p -> Long.parseLong(p.getFileName().toString()))
          .toList();
    }
  }
}
