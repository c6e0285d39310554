package io.kontrol.automaton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.automaton.testing.AutomatonProcess;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Start and stop of the real process: signals, DIE, the terminal script, the socket file. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LifecycleTest {

  static final String MANIFEST = String.join("\n",
      "initial: running",
      "terminal: shutdown",
      "states:",
      "- tag: running",
      "  shell: |",
      "    echo $$ > running.pid",
      "    echo running-started",
      "    sleep 300",
      "  next: [running]",
      "- tag: shutdown",
      "  shell: |",
      "    echo \"bye from $0 in state shutdown\"",
      "    sleep 0.3",
      "    echo terminal-done",
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
  void sigtermRunsTheTerminalScriptRemovesTheSocketAndExitsZero() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    automaton.awaitOutput("running-started");
    long script = Long.parseLong(Files.readString(dir.resolve("running.pid")).trim());
    assertThat(Files.exists(automaton.socket())).isTrue();

    automaton.signal("TERM");
    assertThat(automaton.awaitExit(Duration.ofSeconds(15))).isZero();
    assertThat(automaton.output())
        .contains("received SIGTERM")
        .contains("[running] sending SIGTERM to process group " + script)
        .contains("running -> shutdown")
        .contains("| bye from /bin/sh in state shutdown")
        .contains("[shutdown] pid")
        .contains("| terminal-done")
        .contains("removed socket " + automaton.socket());
    assertThat(automaton.output().indexOf("terminal-done")).isLessThan(automaton.output().indexOf("removed socket"));
    assertThat(Files.exists(automaton.socket(), LinkOption.NOFOLLOW_LINKS)).isFalse();
    assertThat(ProcessHandle.of(script).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(Files.readString(dir.resolve("automaton.log"))).contains("terminal-done");
  }

  @Test
  void sigintDoesTheSame() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    automaton.awaitOutput("running-started");
    automaton.signal("INT");
    assertThat(automaton.awaitExit(Duration.ofSeconds(15))).isZero();
    assertThat(automaton.output()).contains("received SIGINT").contains("terminal-done");
    assertThat(Files.exists(automaton.socket(), LinkOption.NOFOLLOW_LINKS)).isFalse();
  }

  @Test
  void dieOverSocatDoesTheSame() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    automaton.awaitOutput("running-started");
    assertThat(automaton.socat("DIE")).isEqualTo("OK");
    assertThat(automaton.awaitExit(Duration.ofSeconds(15))).isZero();
    assertThat(automaton.output()).contains("shutting down (DIE)").contains("terminal-done");
    assertThat(Files.exists(automaton.socket(), LinkOption.NOFOLLOW_LINKS)).isFalse();
  }

  @Test
  void theTerminalScriptIsBoundedByItsTimeout() throws Exception {
    String stuck = MANIFEST.replace("    sleep 0.3\n", "    sleep 300\n");
    automaton = AutomatonProcess.start(dir, stuck, "--terminal-timeout", "1", "--kill-grace", "0.5");
    automaton.awaitOutput("running-started");
    long t0 = System.nanoTime();
    automaton.signal("TERM");
    assertThat(automaton.awaitExit(Duration.ofSeconds(15))).isZero();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
    assertThat(automaton.output()).contains("terminal script exceeded 1 s").doesNotContain("terminal-done");
    assertThat(Files.exists(automaton.socket(), LinkOption.NOFOLLOW_LINKS)).isFalse();
  }

  @Test
  void theSocketIsGroupOnlyByDefaultAndTheModeCanBeChosen() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(automaton.socket()))).isEqualTo("rw-rw----");
    automaton.close();

    Path other = Files.createDirectory(dir.resolve("other"));
    automaton = AutomatonProcess.start(other, MANIFEST, "--socket-mode", "0600");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(automaton.socket()))).isEqualTo("rw-------");
  }

  @Test
  void aStaleSocketFromACrashedRunIsReplaced() throws Exception {
    Path sock = dir.resolve("sock");
    try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      crashed.bind(UnixDomainSocketAddress.of(sock));
    }
    assertThat(Files.exists(sock, LinkOption.NOFOLLOW_LINKS)).as("closing does not remove the file").isTrue();
    automaton = AutomatonProcess.start(dir, MANIFEST);
    assertThat(automaton.output()).contains("removed stale socket " + sock);
    assertThat(automaton.state()).isEqualTo("running");
  }

  @Test
  void aLiveSocketIsRefusedAndItsAutomatonKeepsServing() throws Exception {
    automaton = AutomatonProcess.start(dir, MANIFEST);
    try (AutomatonProcess second = AutomatonProcess.launchRaw(dir, automaton.socket(),
        List.of(dir.resolve("manifest.yml").toString(), "-s", automaton.socket().toString(), "-l", "-"))) {
      assertThat(second.awaitExit(Duration.ofSeconds(15))).isEqualTo(1);
      assertThat(second.output()).contains("another automaton is running on " + automaton.socket() + " (state running)");
    }
    assertThat(automaton.state()).isEqualTo("running");
    assertThat(automaton.process().isAlive()).isTrue();
  }

  @Test
  void aPathThatIsNotASocketIsLeftAlone() throws Exception {
    Path sock = dir.resolve("sock");
    Files.writeString(sock, "precious");
    automaton = AutomatonProcess.launch(dir, MANIFEST);
    assertThat(automaton.awaitExit(Duration.ofSeconds(15))).isEqualTo(1);
    assertThat(automaton.output()).contains(sock + " exists and is not a socket: refusing to replace it");
    assertThat(Files.readString(sock)).isEqualTo("precious");
  }

  @Test
  void anInvalidManifestRefusesToStartWithFileLineAndColumn() throws Exception {
    automaton = AutomatonProcess.launch(dir, MANIFEST.replace("next: [running]", "next: [runing]"));
    assertThat(automaton.awaitExit(Duration.ofSeconds(15))).isEqualTo(1);
    assertThat(automaton.output())
        .contains(dir.resolve("manifest.yml") + ":9:10: 'next' names no state: 'runing' (states: running, shutdown)")
        .contains("automaton: invalid manifest, not starting");
    assertThat(Files.exists(dir.resolve("sock"))).isFalse();
  }

  @Test
  void theOriginalInvocationWorksWithOptionsAfterTheManifest() throws Exception {
    // exactly the supervisord line: /usr/bin/automaton /home/kontrol/lifecycle.yml -d -s /tmp/sock
    Files.writeString(dir.resolve("lifecycle.yml"), MANIFEST);
    automaton = AutomatonProcess.launchRaw(dir, dir.resolve("sock"),
        List.of(dir.resolve("lifecycle.yml").toString(), "-d", "-s", dir.resolve("sock").toString()));
    automaton.awaitReady();
    assertThat(automaton.socat("STATE")).isEqualTo("running");
    await("default log file automaton.log in the working directory").atMost(Duration.ofSeconds(5))
        .until(() -> Files.exists(dir.resolve("automaton.log")));
    assertThat(automaton.output()).contains("DEBUG");
  }
}
