package io.kontrol.service.kafka;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol kafka setup}: the lifecycle's first state. Publishes the pod's host name and its
 * volume's identity (cluster id, node.id, directory id) in its payload, for the group's leader.
 */
@Command(
    name = "setup",
    mixinStandardHelpOptions = true,
    description = "Publish this pod's host name and its volume's Kafka identity in its payload.")
public final class KafkaSetupCommand implements Callable<Integer> {

  @ParentCommand KafkaCommand kafka;

  @Spec CommandSpec spec;

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = KafkaCommand.DATA_DIR, description = "the broker's log directory (default: ${DEFAULT-VALUE})")
  Path dataDir;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    String host;
    try {
      host = kafka.host();
    } catch (IOException e) {
      out.println("kafka setup: no host name: " + e.getMessage());
      out.flush();
      return KafkaConfigure.FAILED;
    }
    KafkaConfigure configure =
        new KafkaConfigure(
            new KafkaConfigure.Paths(dataDir, Path.of(KafkaCommand.CONFIG), Path.of(KafkaCommand.DEFAULTS)),
            new PayloadFile(kafka.payload()),
            new SupervisedBroker(KafkaCommand.STORAGE_TOOL),
            host,
            line -> {
              out.println(line);
              out.flush();
            });
    return configure.publish();
  }
}
