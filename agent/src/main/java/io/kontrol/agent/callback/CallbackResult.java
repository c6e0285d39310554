package io.kontrol.agent.callback;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.Optional;

/**
 * What one callback run gave: exit code ({@code -1} when killed on timeout), stdout (its first
 * {@link CallbackRunner#MAX_STDOUT} bytes; {@code stdoutCut} when it printed more), the tail of
 * stderr, and how long it took. It becomes a new state only if it exited 0 and printed JSON, whole.
 */
public record CallbackResult(int exitCode, boolean timedOut, String stdout, String stderr, Duration took, boolean stdoutCut) {
  private static final ObjectMapper JSON = new ObjectMapper();

  public CallbackResult(int exitCode, boolean timedOut, String stdout, String stderr, Duration took) {
    this(exitCode, timedOut, stdout, stderr, took, false);
  }

  /** The new state: stdout, trimmed, when the run exited 0 and stdout is one JSON value. */
  public Optional<String> state() {
    if (timedOut || exitCode != 0 || stdoutCut) {
      return Optional.empty();
    }
    String s = stdout.trim();
    if (s.isEmpty()) {
      return Optional.empty();
    }
    try (var parser = JSON.createParser(s)) {
      JSON.readTree(parser);
      if (parser.nextToken() != null) {
        return Optional.empty(); // more than one JSON value
      }
      return Optional.of(s);
    } catch (Exception e) {
      return Optional.empty();
    }
  }

  /** Why it is not a state, for the log. */
  public String failure() {
    if (timedOut) {
      return "timed out after " + took.toMillis() + " ms (process group killed)";
    }
    if (exitCode != 0) {
      return "exit " + exitCode;
    }
    if (stdoutCut) {
      return "printed more than " + (CallbackRunner.MAX_STDOUT >> 20) + " MiB on stdout (the rest was read and dropped): a state is at most "
          + (CallbackRunner.MAX_STDOUT >> 20) + " MiB of JSON";
    }
    return stdout.isBlank() ? "printed nothing (a state must be JSON)" : "stdout is not JSON";
  }
}
