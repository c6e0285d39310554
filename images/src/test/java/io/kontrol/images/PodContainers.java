package io.kontrol.images;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;

/** What every pod of these tests does with its container: run a command in it, keep its log. */
final class PodContainers {

  /** The automaton's log line for a transition to {@code configure} (only a leader's callback asks for one). */
  static final Pattern CONFIGURE_STARTED = Pattern.compile("automaton - \\S+ -> configure\\b");

  /** The agent's log line for a callback started on its group's leader. */
  static final Pattern CALLBACK_STARTED = Pattern.compile("INFO  callback started ");

  private PodContainers() {}

  /** How many times {@code line} occurs in {@code logs}. */
  static long count(Pattern line, String logs) {
    return line.matcher(logs).results().count();
  }

  /** {@code command} run in {@code pod}'s container; a Docker failure is an unchecked error naming the pod. */
  static ExecResult exec(GenericContainer<?> container, String pod, String... command) {
    try {
      return container.execInContainer(command);
    } catch (IOException e) {
      throw new IllegalStateException(pod + ": exec " + String.join(" ", command) + " failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Writes the container's log to {@code dir/pod.log}. */
  static void saveLogs(GenericContainer<?> container, String pod, Path dir) {
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(pod + ".log"), container.getLogs(), StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      // the logs are a diagnosis aid; a container already gone has none to save
    }
  }
}
