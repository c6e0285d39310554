package io.kontrol.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CallbackInputTest {

  @TempDir Path dir;

  @Test
  void aGroupTooLargeForPodsIsReadFromPodsFile() throws Exception {
    // 2,000 records: over Linux's 128 KiB for one variable, so the agent sets only $PODS_FILE
    StringBuilder pods = new StringBuilder("[");
    for (int i = 0; i < 2000; i++) {
      pods.append(i == 0 ? "" : ",").append("{\"app\":\"nats\",\"id\":\"nats-").append(i)
          .append("\",\"ip\":\"10.0.").append(i / 250).append('.').append(i % 250).append("\",\"payload\":{},\"seq\":").append(i).append('}');
    }
    Path file = dir.resolve("pods.json");
    Files.writeString(file, pods.append(']'));
    assertThat(Files.size(file)).isGreaterThan(128 << 10);
    List<String> log = new ArrayList<>();
    CallbackInput in = CallbackInput.fromEnvironment(Map.of("PODS_FILE", file.toString(), "STATE", "{\"a\":1}"), log::add);
    assertThat(in.records()).hasSize(2000);
    assertThat(in.records().get(1999).get("id").asText()).isEqualTo("nats-1999");
    assertThat(in.previous().get("a").asInt()).isEqualTo(1);

    // $PODS wins when it is set
    assertThat(CallbackInput.fromEnvironment(Map.of("PODS", "[]", "PODS_FILE", file.toString()), log::add).records()).isEmpty();
    assertThat(log).isEmpty();
  }

  @Test
  void anUnreadablePodsFileOrNeitherIsBadInputSayingWhich() {
    Path missing = dir.resolve("gone.json");
    assertThatThrownBy(() -> CallbackInput.fromEnvironment(Map.of("PODS_FILE", missing.toString()), l -> { }))
        .isInstanceOfSatisfying(CallbackException.class, e -> assertThat(e.badInput()).isTrue())
        .hasMessageStartingWith("$PODS is not set and $PODS_FILE " + missing + " cannot be read");
    assertThatThrownBy(() -> CallbackInput.fromEnvironment(Map.of(), l -> { }))
        .isInstanceOf(CallbackException.class)
        .hasMessageStartingWith("$PODS is empty");
  }
}
