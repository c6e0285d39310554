package io.kontrol.service.kafka;

import io.kontrol.agent.cli.KontrolCommand;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code kontrol kafka ...}: the Kafka pod's own commands (its lifecycle states, its probes). Each
 * subcommand is its own class; this one only groups them and holds what they share.
 */
@Command(
    name = "kafka",
    mixinStandardHelpOptions = true,
    description = "The kontrol/kafka pod's commands: lifecycle states and probes.",
    subcommands = {
      KafkaSetupCommand.class,
      KafkaConfigureCommand.class,
      KafkaRestartCommand.class,
      KafkaWatchCommand.class,
      KafkaReadyCommand.class,
      KafkaDrainCommand.class,
    })
public final class KafkaCommand {

  /** The pod's Kafka volume layout (the image's; the options of the subcommands default to it). */
  static final String DATA_DIR = "/data/kafka/data";

  static final String CONFIG = "/data/kafka/server.properties";
  static final String DEFAULTS = "/home/kontrol/kafka/defaults.properties";
  static final String STORAGE_TOOL = "/opt/kafka/bin/kafka-storage.sh";

  @ParentCommand KontrolCommand parent;

  Map<String, String> env() {
    return parent == null ? System.getenv() : parent.env();
  }

  Path payload() {
    return Path.of(env().getOrDefault("KONTROL_PAYLOAD", "/data/payload.json"));
  }

  /**
   * The host name the broker advertises: {@code KAFKA_HOST} when set, else {@code hostname -f}
   * (on a StatefulSet with a headless service, the pod's own DNS name), never an IP.
   */
  String host() throws IOException {
    String set = env().get("KAFKA_HOST");
    if (set != null && !set.isBlank()) {
      return set.strip();
    }
    Process p = new ProcessBuilder(List.of("hostname", "-f")).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(Duration.ofSeconds(10).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException("hostname -f did not answer within 10 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
      if (p.exitValue() != 0 || out.isEmpty()) {
        throw new IOException("hostname -f failed: " + out);
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
  }
}
