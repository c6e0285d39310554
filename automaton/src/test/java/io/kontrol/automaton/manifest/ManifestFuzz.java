package io.kontrol.automaton.manifest;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Timeout;

/**
 * Any bytes as a manifest file: {@link ManifestLoader#load} either gives a manifest whose initial
 * and terminal states exist, or refuses with problems that each carry a line and a column inside
 * the file and a reason. Anything else it throws is a finding.
 *
 * <p>Fuzzed for {@code fuzz.seconds} by {@code mvn verify}; the seeds are in {@code
 * ManifestFuzzInputs/}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ManifestFuzz {

  static final Path DIR;
  static {
    try {
      DIR = Files.createTempDirectory("manifest-fuzz");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @AfterAll
  static void cleanUp() throws IOException {
    Files.deleteIfExists(DIR.resolve("lifecycle.yml"));
    Files.deleteIfExists(DIR);
  }

  // CI fuzzes a fixed number of inputs from a fixed seed (see CONTRIBUTING.md, "Fuzz")
  @FuzzTest(maxDuration = "30s", maxExecutions = 1000)
  void load(byte[] bytes) throws IOException {
    Path file = DIR.resolve("lifecycle.yml");
    Files.write(file, bytes);
    Manifest m;
    try {
      m = ManifestLoader.load(file);
    } catch (ManifestException e) {
      long lines = yamlLines(new String(bytes, StandardCharsets.UTF_8));
      assertThat(e.problems()).isNotEmpty();
      for (Problem p : e.problems()) {
        assertThat(p.file()).isEqualTo(file.toString());
        assertThat(p.line()).as("%s", p).isBetween(1, (int) Math.max(lines, 1));
        assertThat(p.column()).as("%s", p).isPositive();
        assertThat(p.reason()).as("%s", p).isNotBlank();
      }
      return;
    }
    assertThat(m.states()).containsKey(m.initial()).containsKey(m.terminal());
    for (String tag : m.states().keySet()) {
      m.targets(tag); // every state's targets can be listed
    }
  }

  /**
   * Lines as YAML 1.2 counts them, as the loader reports them: CR LF, a lone LF and a lone CR each
   * end a line (a file with stray carriage returns has more lines than {@code wc -l} shows).
   */
  static long yamlLines(String text) {
    long lines = 1;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n' || (c == '\r' && (i + 1 == text.length() || text.charAt(i + 1) != '\n'))) {
        lines++;
      }
    }
    return lines;
  }
}
