package io.kontrol.automaton.socket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SocketFilesTest {

  @Test
  void parsesAndFormatsOctalModes() {
    assertThat(SocketFiles.formatMode(SocketFiles.parseMode("0660"))).isEqualTo("0660");
    assertThat(SocketFiles.formatMode(SocketFiles.parseMode("600"))).isEqualTo("0600");
    assertThat(SocketFiles.formatMode(SocketFiles.parseMode("0777"))).isEqualTo("0777");
    assertThat(SocketFiles.parseMode("0000")).isEmpty();
  }

  @Test
  void refusesWhatIsNotAMode() {
    for (String bad : new String[] {"", "rw-rw----", "0868", "12345", "66", "u+rw"}) {
      assertThatThrownBy(() -> SocketFiles.parseMode(bad)).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
