package io.kontrol.agent.callback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.automaton.testing.Pids;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class CallbackRunnerTest {
  @TempDir Path dir;

  @Test
  void exitZeroWithJsonIsAStateAndSeesOnlyTheGivenEnvironment() throws Exception {
    CallbackResult r =
        new CallbackRunner("echo \"{\\\"md5\\\":\\\"$MD5\\\",\\\"home\\\":\\\"${HOME:-none}\\\"}\"", Duration.ofSeconds(5))
            .run(Map.of("MD5", "aa:bb"));
    assertThat(r.exitCode()).isZero();
    assertThat(r.state()).contains("{\"md5\":\"aa:bb\",\"home\":\"none\"}");
  }

  @Test
  void nonZeroExitIsNoStateAndKeepsStderr() throws Exception {
    CallbackResult r = new CallbackRunner("echo '{}'; echo boom >&2; exit 3", Duration.ofSeconds(5)).run(Map.of());
    assertThat(r.exitCode()).isEqualTo(3);
    assertThat(r.state()).isEmpty();
    assertThat(r.stderr()).contains("boom");
    assertThat(r.failure()).isEqualTo("exit 3");
  }

  @Test
  void nonJsonStdoutIsNoState() throws Exception {
    assertThat(new CallbackRunner("echo hello", Duration.ofSeconds(5)).run(Map.of()).state()).isEmpty();
    assertThat(new CallbackRunner("true", Duration.ofSeconds(5)).run(Map.of()).state()).isEmpty();
    assertThat(new CallbackRunner("echo '{} {}'", Duration.ofSeconds(5)).run(Map.of()).state()).isEmpty();
    assertThat(new CallbackRunner("echo '[1,2]'", Duration.ofSeconds(5)).run(Map.of()).state()).contains("[1,2]");
  }

  @Test
  void aCallbackPrinting100MiBIsReadToTheEndKeepingOneMiBAndIsNoStateWithTheReason() throws Exception {
    // valid JSON followed by 100 MiB of spaces: as a whole it would parse, but it is over the limit
    CallbackResult r = new CallbackRunner("echo '{\"a\":1}'; head -c 104857600 /dev/zero | tr '\\0' ' '; echo '{}'",
        Duration.ofSeconds(20)).run(Map.of("PATH", "/usr/bin:/bin"));
    assertThat(r.exitCode()).as("the callback was not blocked on a full pipe").isZero();
    assertThat(r.stdoutCut()).isTrue();
    assertThat(r.stdout()).as("what is kept is bounded").hasSize(CallbackRunner.MAX_STDOUT);
    assertThat(r.state()).isEmpty();
    assertThat(r.failure()).isEqualTo("printed more than 1 MiB on stdout (the rest was read and dropped): a state is at most 1 MiB of JSON");
  }

  @Test
  void timeoutKillsTheWholeProcessGroup() throws Exception {
    Path pidFile = dir.resolve("child.pid");
    // the shell starts a child that would outlive a plain kill of the shell
    String cmd = "sleep 60 & echo $! > " + pidFile + "; wait";
    CallbackResult r = new CallbackRunner(cmd, Duration.ofMillis(500)).run(Map.of("PATH", "/usr/bin:/bin"));
    assertThat(r.timedOut()).isTrue();
    assertThat(r.state()).isEmpty();
    assertThat(r.failure()).contains("timed out");
    long child = Long.parseLong(Files.readString(pidFile).trim());
    await().atMost(Duration.ofSeconds(5))
        .until(() -> Pids.gone(child));
  }
}
