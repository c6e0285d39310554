package io.kontrol.agent.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The payload file's parse: one JSON value the record can carry as it is, or an error naming the file and where. */
class PayloadParseTest {
  static final Path FILE = Path.of("/etc/kontrol/payload.json");

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aNumberBeyondADoublesRangeIsRefusedWithItsPointer() {
    // found by PayloadFuzz: 50e945 read as Infinity, and the record would have carried "Infinity"
    assertThatThrownBy(() -> PayloadWatcher.parse(bytes("50e945\r"), FILE))
        .isInstanceOf(IOException.class)
        .hasMessage("number out of range in /etc/kontrol/payload.json at / (beyond a double's range: write it as a string)");
    assertThatThrownBy(() -> PayloadWatcher.parse(bytes("{\"a\":{\"b/c\":[1,-1e999]}}"), FILE))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("at /a/b~1c/1 ");
  }

  @Test
  void largeFiniteNumbersAndIntegersBeyondALongAreKept() throws IOException {
    assertThat(PayloadWatcher.parse(bytes("{\"x\":1.7e308,\"n\":123456789012345678901234567890}"), FILE).toString())
        .isEqualTo("{\"x\":1.7E308,\"n\":123456789012345678901234567890}");
  }
}
