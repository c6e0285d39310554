package io.kontrol.agent.callback;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * What a callback prints and what it is given back. Its stdout becomes the group's state only when
 * the run exited 0 and stdout is exactly one JSON value ({@link CallbackResult#state}); otherwise
 * {@link CallbackResult#failure} says why. The service callbacks read {@code $PODS} and {@code
 * $STATE} ({@link CallbackInput#parse}): any text gives records, or a {@link CallbackException}
 * for bad input, never anything else.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CallbackOutputFuzz {

  static final ObjectMapper JSON = new ObjectMapper();

  // CI fuzzes a fixed number of inputs from a fixed seed (see CONTRIBUTING.md, "Fuzz")
  @FuzzTest(maxDuration = "30s", maxExecutions = 55000)
  void stdoutAndState(FuzzedDataProvider data) throws Exception {
    int exit = data.pickValue(new int[] {0, 0, 0, 1, -1});
    boolean truncated = data.consumeBoolean();
    String pods = data.consumeString(512);
    String stdout = data.consumeRemainingAsString();

    CallbackResult r = new CallbackResult(exit, exit == -1, stdout, "", Duration.ofMillis(1), truncated);
    Optional<String> state = r.state();
    if (state.isPresent()) {
      assertThat(exit).isZero();
      assertThat(truncated).as("a cut stdout is never a state").isFalse();
      assertThat(state.get()).isEqualTo(stdout.trim());
      try (var parser = JSON.createParser(state.get())) {
        JsonNode node = JSON.readTree(parser);
        assertThat(node).isNotNull();
        assertThat(parser.nextToken()).as("one JSON value").isNull();
      }
    } else {
      assertThat(r.failure()).isNotBlank();
    }

    // what the leader hands the next run: $PODS as given, $STATE as the last state (or stdout)
    List<String> logged = new ArrayList<>();
    try {
      CallbackInput in = CallbackInput.parse(pods, state.orElse(stdout), logged::add);
      assertThat(in.records()).isNotNull();
      assertThat(in.previous()).isNotNull();
    } catch (CallbackException e) {
      assertThat(e.getMessage()).startsWith("$PODS");
    }
  }
}
