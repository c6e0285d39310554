package io.kontrol.automaton.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import io.kontrol.automaton.testing.Pids;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(60)
class ShellCommandTest {

  @TempDir Path dir;

  @Test
  void argumentsAndAnExactEnvironmentReachTheShell() throws Exception {
    ShellCommand.Result r = ShellCommand.of("echo \"$0 $1 ${X:-unset} ${HOME:-nohome}\"")
        .args("zero", "one")
        .environment(Map.of("X", "x"))
        .run(Duration.ofSeconds(10), Capture.head(100), Capture.none());
    assertThat(r.exitCode()).isZero();
    assertThat(r.timedOut()).isFalse();
    assertThat(r.stdout().text()).isEqualTo("zero one x nohome\n");
  }

  @Test
  void outputBeyondTheLimitIsDrainedAndCutAtTheHeadOrTheTail() throws Exception {
    String script = "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done; echo end >&2";
    ShellCommand.Result r = ShellCommand.of(script).run(Duration.ofSeconds(20), Capture.head(6), Capture.tail(4));
    assertThat(r.exitCode()).isZero();
    assertThat(r.stdout().text()).isEqualTo("line0\n");
    assertThat(r.stdout().truncated()).isTrue();
    assertThat(r.stderr().text()).isEqualTo("end\n");
    assertThat(r.stderr().truncated()).isFalse();

    ShellCommand.Result merged = ShellCommand.of(script).mergeOutput().run(Duration.ofSeconds(20), Capture.tail(13), Capture.none());
    assertThat(merged.stdout().text()).isEqualTo("line1999\nend\n");
    assertThat(merged.stdout().truncated()).isTrue();
  }

  @Test
  void aTimeoutKillsTheWholeGroup() throws Exception {
    Path pid = dir.resolve("pid");
    ShellCommand.Result r = ShellCommand.of("sleep 600 & echo $! > " + pid + "; wait")
        .run(Duration.ofMillis(500), Capture.none(), Capture.none());
    assertThat(r.timedOut()).isTrue();
    assertThat(r.exitCode()).isEqualTo(-1);
    long child = Long.parseLong(Files.readString(pid).trim());
    await().atMost(Duration.ofSeconds(5)).until(() -> Pids.gone(child));
  }

  /**
   * Holding the output or not, a child is killed once the shell has exited. The JDK closes its end
   * of the pipes when the shell exits unless a read is blocked on them at that moment, so the first
   * case also takes the second's path at random.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"sleep 600 &", "sleep 600 >/dev/null 2>&1 &"})
  void aChildLeftRunningIsKilledOnceTheShellHasExited(String child) throws Exception {
    Path pid = dir.resolve("pid");
    ShellCommand.Result r = ShellCommand.of(child + " echo $! > " + pid + "; echo done")
        .run(Duration.ofSeconds(20), Capture.head(100), Capture.none());
    assertThat(r.timedOut()).isFalse();
    assertThat(r.exitCode()).isZero();
    assertThat(r.stdout().text()).isEqualTo("done\n");
    long left = Long.parseLong(Files.readString(pid).trim());
    await().atMost(Duration.ofSeconds(5)).until(() -> Pids.gone(left));
  }
}
