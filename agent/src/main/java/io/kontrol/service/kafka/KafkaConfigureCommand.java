package io.kontrol.service.kafka;

import io.kontrol.agent.identity.Annotations;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol kafka configure}: the lifecycle's {@code configure} state, with the leader's
 * {@code $INPUT}. Checks the input against the volume, writes server.properties (defaults, the
 * {@code kafka.unity3d.com/overrides} annotation, the keys the pod owns), formats an empty volume,
 * starts the broker. Refusals and bad override lines go to the payload's config_error.
 *
 * <p>Exit codes: 0 applied or refused (see the payload), 1 failed (retry helps), 2 bad input.
 */
@Command(
    name = "configure",
    mixinStandardHelpOptions = true,
    description = "Apply the group leader's configuration ($INPUT) to this Kafka pod.")
public final class KafkaConfigureCommand implements Callable<Integer> {

  @ParentCommand KafkaCommand kafka;

  @Spec CommandSpec spec;

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = KafkaCommand.DATA_DIR, description = "the broker's log directory (default: ${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--config", paramLabel = "FILE", defaultValue = KafkaCommand.CONFIG, description = "server.properties to write (default: ${DEFAULT-VALUE})")
  Path config;

  @Option(names = "--defaults", paramLabel = "FILE", defaultValue = KafkaCommand.DEFAULTS, description = "the image's broker defaults (default: ${DEFAULT-VALUE})")
  Path defaults;

  @Option(names = "--storage-tool", paramLabel = "PATH", defaultValue = KafkaCommand.STORAGE_TOOL, description = "kafka-storage.sh (default: ${DEFAULT-VALUE})")
  String storageTool;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Map<String, String> env = kafka.env();
    String host;
    String overrides;
    try {
      host = kafka.host();
      overrides = Annotations.current(env).get(KafkaOverrides.ANNOTATION);
    } catch (IOException | IllegalArgumentException e) {
      out.println("kafka configure: " + e.getMessage() + "; nothing changed");
      out.flush();
      return KafkaConfigure.FAILED;
    }
    KafkaConfigure configure =
        new KafkaConfigure(
            new KafkaConfigure.Paths(dataDir, config, defaults),
            new PayloadFile(kafka.payload()),
            new SupervisedBroker(storageTool),
            host,
            line -> {
              out.println(line);
              out.flush();
            });
    return configure.configure(env.get("INPUT"), overrides);
  }
}
