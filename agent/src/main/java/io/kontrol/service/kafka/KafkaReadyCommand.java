package io.kontrol.service.kafka;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol kafka ready}: a readiness probe. Exit 0 when the local broker is RUNNING (its
 * BrokerState over loopback JMX) and in the ISR of every partition it hosts; else 1, with why.
 */
@Command(
    name = "ready",
    mixinStandardHelpOptions = true,
    description = "Exit 0 when this broker is RUNNING and in sync (for a readiness probe), else 1 with the reason.")
public final class KafkaReadyCommand implements Callable<Integer> {

  @ParentCommand KafkaCommand kafka;

  @Spec CommandSpec spec;

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = KafkaCommand.DATA_DIR, description = "the broker's log directory (default: ${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--jmx-port", paramLabel = "PORT", defaultValue = "9999", description = "the broker's loopback JMX port (default: ${DEFAULT-VALUE})")
  int jmxPort;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    String reason = reason();
    out.println(reason == null ? "kafka ready: RUNNING and in sync" : "kafka not ready: " + reason);
    out.flush();
    return reason == null ? 0 : 1;
  }

  private String reason() {
    String missing = KafkaClients.missing();
    if (missing != null) {
      return missing;
    }
    Optional<MetaProperties> meta;
    try {
      meta = MetaProperties.read(dataDir);
    } catch (IOException e) {
      return e.getMessage();
    }
    if (meta.isEmpty()) {
      return "the volume is not formatted yet";
    }
    try (BrokerProbe probe = new BrokerProbe("127.0.0.1", jmxPort, 3000)) {
      BrokerProbe.Result r = probe.probe();
      if (!r.answered()) {
        return r.failure();
      }
      if (r.state() != BrokerProbe.RUNNING) {
        return "broker is " + BrokerProbe.stateName(r.state());
      }
    }
    try (RollGate gate = RollGate.connect("localhost:9092")) {
      return gate.outOfSync(meta.get().nodeId());
    } catch (IOException e) {
      return e.getMessage();
    }
  }
}
