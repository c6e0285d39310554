package io.kontrol.automaton.cli;

import static org.awaitility.Awaitility.await;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.automaton.testing.AutomatonProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The installed launcher (dist/bin/automaton next to dist/lib/automaton.jar), as an image would use it. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LauncherIT {

  static final Path DIST = Path.of(System.getProperty("automaton.dist", "../dist")).toAbsolutePath().normalize();

  @TempDir Path dir;

  @Test
  void theLauncherIsExecutableAndRunsTheShadedJar() throws Exception {
    Path launcher = DIST.resolve("bin/automaton");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(launcher))).isEqualTo("rwxr-xr-x");
    assertThat(DIST.resolve("lib/automaton.jar")).isRegularFile();
    Process p = new ProcessBuilder(launcher.toString(), "--version").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).trim();
    assertThat(p.waitFor()).isZero();
    assertThat(out).matches("automaton \\d+\\.\\d+\\.\\d+.*");
  }

  @Test
  void nonAsciiInputReachesScriptsAsUtf8EvenUnderLangC() throws Exception {
    Files.writeString(dir.resolve("enc.yml"), String.join("\n",
        "initial: idle",
        "terminal: end",
        "states:",
        "- tag: idle",
        "  next: [show]",
        "- tag: show",
        "  next: [show]",
        "  shell: printf '%s' \"$INPUT\" > input.txt",
        "- tag: end",
        ""));
    Path sock = dir.resolve("sock");
    ProcessBuilder pb = new ProcessBuilder(DIST.resolve("bin/automaton").toString(), "enc.yml", "-s", sock.toString(), "-l", "-")
        .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile());
    pb.environment().put("LANG", "C");
    pb.environment().put("LC_ALL", "C");
    Process automaton = pb.start();
    try {
      await("the socket").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> Files.exists(sock));
      String input = "h\u00e9llo \u2603 {\"k\": \"\u00fc\"}";
      assertThat(AutomatonProcess.socat(dir, sock, ("WAIT show " + input + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8), 5))
          .isEqualTo("OK");
      assertThat(Files.readString(dir.resolve("input.txt"), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(input);
      assertThat(Files.readString(dir.resolve("out.txt"))).doesNotContain("default charset");

      // and automaton send, whose JVM decodes the payload from its arguments
      String other = "gr\u00fc\u00dfe \u00e0 tous";
      ProcessBuilder send = new ProcessBuilder(DIST.resolve("bin/automaton").toString(), "send", "-s", sock.toString(), "WAIT",
          "show", other).redirectErrorStream(true);
      send.environment().remove("LC_ALL");
      send.environment().remove("LC_CTYPE");
      send.environment().put("LANG", "C");
      Process p = send.start();
      assertThat(new String(p.getInputStream().readAllBytes()).trim()).isEqualTo("OK");
      assertThat(p.waitFor()).isZero();
      assertThat(Files.readString(dir.resolve("input.txt"), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(other);
    } finally {
      new ProcessBuilder("kill", "-s", "TERM", String.valueOf(automaton.pid())).start().waitFor();
      if (!automaton.waitFor(10, TimeUnit.SECONDS)) {
        automaton.destroyForcibly();
      }
    }
  }

  @Test
  void theOriginalSupervisordLineWorksThroughASymlink() throws Exception {
    // as in the images: /usr/bin/automaton -> .../bin/automaton; command=/usr/bin/automaton lifecycle.yml -d -s /tmp/sock
    Path link = Files.createSymbolicLink(dir.resolve("automaton"), DIST.resolve("bin/automaton"));
    Files.writeString(dir.resolve("lifecycle.yml"), String.join("\n",
        "initial: setup",
        "terminal: shutdown",
        "states:",
        "- tag: setup",
        "  shell: |",
        "    echo \"set up with $SOCKET\"",
        "  next: [configure]",
        "- tag: configure",
        "  shell: echo \"configured with $INPUT\"",
        "  next: [configure]",
        "- tag: shutdown",
        ""));
    Path sock = dir.resolve("sock");
    ProcessBuilder pb = new ProcessBuilder(link.toString(), dir.resolve("lifecycle.yml").toString(), "-d", "-s", sock.toString())
        .directory(dir.toFile()).redirectErrorStream(true);
    Process automaton = pb.start();
    StringBuilder out = new StringBuilder();
    Thread t = new Thread(() -> {
      try {
        out.append(new String(automaton.getInputStream().readAllBytes()));
      } catch (java.io.IOException e) {
        // gone
      }
    });
    t.start();
    try {
      await("the initial state over socat").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
          .until(() -> Files.exists(sock) && "setup".equals(AutomatonProcess.socat(dir, sock, "STATE\n".getBytes(), 5)));
      assertThat(AutomatonProcess.socat(dir, sock, "WAIT configure {\"hosts\": [\"10.0.0.1\"]}\n".getBytes(), 5)).isEqualTo("OK");
      Process send = new ProcessBuilder(link.toString(), "send", "-s", sock.toString(), "STATE").start();
      assertThat(new String(send.getInputStream().readAllBytes()).trim()).isEqualTo("configure");
      assertThat(send.waitFor()).isZero();
      new ProcessBuilder("kill", "-s", "INT", String.valueOf(automaton.pid())).start().waitFor();
      assertThat(automaton.waitFor(15, TimeUnit.SECONDS)).isTrue();
      assertThat(automaton.exitValue()).isZero();
      t.join(Duration.ofSeconds(5).toMillis());
      assertThat(out.toString()).contains("set up with " + sock, "configured with {\"hosts\": [\"10.0.0.1\"]}", "configure -> shutdown");
      assertThat(Files.exists(sock)).isFalse();
      assertThat(dir.resolve("automaton.log")).isRegularFile();
    } finally {
      automaton.destroyForcibly();
    }
    assertThat(List.of(link)).allMatch(Files::isSymbolicLink);
  }
}
