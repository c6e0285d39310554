package io.kontrol.automaton;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.automaton.testing.AutomatonProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The original documentation's "Getting started", step by step and as written: bot.yml, {@code
 * automaton bot.yml -d -s /tmp/sock}, then socat.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class OriginalDocsExampleTest {

  static final String BOT_YML = String.join("\n",
      "initial: A",
      "terminal: C",
      "states:",
      "- tag: A",
      "  shell: echo starting",
      "  next: ",
      "    - B",
      "- tag: B",
      "  shell: |",
      "    sleep 5",
      "    echo $INPUT > foo",
      "  next: ",
      "    - A",
      "    - B",
      "- tag: C",
      "  shell: |",
      "    echo terminating",
      "");

  @TempDir Path dir;

  @Test
  void gettingStartedWorksAsWritten() throws Exception {
    Files.writeString(dir.resolve("bot.yml"), BOT_YML);
    Path sock = dir.resolve("sock");
    try (AutomatonProcess automaton = AutomatonProcess.launchRaw(dir, sock, List.of("bot.yml", "-d", "-s", sock.toString()))) {
      automaton.awaitReady();
      automaton.awaitOutput("| starting");

      // $ echo STATE | socat - /tmp/sock
      assertThat(automaton.socat("STATE")).isEqualTo("A");

      // $ echo GOTO B | socat - /tmp/sock  ... after 5 seconds you should see that foo file
      assertThat(automaton.socat("GOTO B")).isEqualTo("OK");
      assertThat(automaton.socat("STATE")).isEqualTo("B");
      Path foo = dir.resolve("foo");
      await().atMost(Duration.ofSeconds(9)).until(() -> Files.exists(foo));
      assertThat(Files.readString(foo)).isEqualTo("\n");

      // $ echo GOTO B hello | socat - /tmp/sock  ... $ cat foo -> hello
      assertThat(automaton.socat("GOTO B hello")).isEqualTo("OK");
      await().atMost(Duration.ofSeconds(9)).until(() -> Files.readString(foo).equals("hello\n"));

      // C is the terminal state the machine transitions to upon shutdown
      automaton.signal("TERM");
      assertThat(automaton.awaitExit(Duration.ofSeconds(10))).isZero();
      assertThat(automaton.output()).contains("B -> C").contains("| terminating");
      assertThat(Files.exists(sock)).isFalse();
      assertThat(Files.exists(dir.resolve("automaton.log"))).isTrue();
    }
  }
}
