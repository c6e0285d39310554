package io.kontrol.agent.registry;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Any bytes as the {@code KONTROL_PAYLOAD} file: {@link PayloadWatcher#parse} gives one JSON value
 * that survives the trip into a record (written and read back the same), or an {@link IOException}
 * naming the file and what is wrong. Anything else thrown is a finding.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PayloadFuzz {

  static final Path FILE = Path.of("/etc/kontrol/payload.json");
  static final ObjectMapper JSON = new ObjectMapper();

  // CI fuzzes a fixed number of inputs from a fixed seed (see CONTRIBUTING.md, "Fuzz")
  @FuzzTest(maxDuration = "30s", maxExecutions = 35000)
  void parse(byte[] bytes) throws IOException {
    JsonNode node;
    try {
      node = PayloadWatcher.parse(bytes, FILE);
    } catch (IOException e) {
      assertThat(e.getMessage()).contains(FILE.toString());
      return;
    }
    assertThat(node).isNotNull();
    assertThat(node.isMissingNode()).isFalse();
    // the record carries it as JSON text: it reads back as the same value
    assertThat(JSON.readTree(JSON.writeValueAsString(node))).isEqualTo(node);
  }
}
