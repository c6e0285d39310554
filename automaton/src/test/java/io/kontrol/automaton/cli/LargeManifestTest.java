package io.kontrol.automaton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kontrol.automaton.testing.AutomatonProcess;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A real automaton driven by a manifest of 10,000 states: it starts, and its protocol answers as with four. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class LargeManifestTest {

  @TempDir Path dir;

  @Test
  void tenThousandStatesStartAndAnswer() throws Exception {
    StringBuilder b = new StringBuilder("initial: s0\nterminal: end\nstates:\n");
    for (int i = 0; i < 10_000; i++) {
      b.append("- tag: s").append(i).append("\n  next: [").append(i + 1 < 10_000 ? "s" + (i + 1) : "'s*'").append("]\n");
    }
    b.append("- tag: end\n  shell: echo end-of-10000\n");
    try (AutomatonProcess a = AutomatonProcess.start(dir, b.toString())) {
      assertThat(a.state()).isEqualTo("s0");
      assertThat(a.send("GOTO s2")).as("not listed by s0").isEqualTo("KO");
      assertThat(a.send("WAIT s1")).isEqualTo("OK");
      assertThat(a.state()).isEqualTo("s1");
      assertThat(a.send("DIE")).isEqualTo("OK");
      a.awaitOutput("end-of-10000");
    }
  }
}
