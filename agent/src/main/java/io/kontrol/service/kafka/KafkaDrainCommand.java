package io.kontrol.service.kafka;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol kafka drain}: a {@code preStop} hook. Waits, bounded, until stopping this broker
 * is safe (no partition it hosts would fall below min.insync.replicas, the quorum keeps a
 * caught-up majority). Exit 0 when safe, 1 at the deadline (the reason printed: Kubernetes then
 * stops the pod anyway, the controlled shutdown still moves leaderships away).
 */
@Command(
    name = "drain",
    mixinStandardHelpOptions = true,
    description = "Wait until stopping this broker is safe (for a preStop hook); bounded by --timeout.")
public final class KafkaDrainCommand implements Callable<Integer> {

  @ParentCommand KafkaCommand kafka;

  @Spec CommandSpec spec;

  @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = KafkaCommand.DATA_DIR, description = "the broker's log directory (default: ${DEFAULT-VALUE})")
  Path dataDir;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "120", description = "the longest wait (default: ${DEFAULT-VALUE}); keep it under terminationGracePeriodSeconds minus the broker's 180 s stop")
  int timeout;

  @Option(names = "--bootstrap", paramLabel = "HOST:PORT", defaultValue = "localhost:9092", description = "a broker to ask (default: ${DEFAULT-VALUE})")
  String bootstrap;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    String missing = KafkaClients.missing();
    if (missing != null) {
      out.println("kafka drain: " + missing);
      out.flush();
      return 2;
    }
    Optional<MetaProperties> meta;
    try {
      meta = MetaProperties.read(dataDir);
    } catch (IOException e) {
      out.println("kafka drain: " + e.getMessage() + ": nothing to wait for");
      out.flush();
      return 0;
    }
    if (meta.isEmpty()) {
      out.println("kafka drain: the volume is not formatted: nothing to wait for");
      out.flush();
      return 0;
    }
    int id = meta.get().nodeId();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeout);
    String last = null;
    try (RollGate gate = RollGate.connect(bootstrap)) {
      while (true) {
        String why;
        try {
          why = gate.whyNot(id);
        } catch (IOException e) {
          why = e.getMessage();
        }
        if (why == null) {
          out.println("kafka drain: stopping broker " + id + " is safe");
          out.flush();
          return 0;
        }
        if (!why.equals(last)) {
          out.println("kafka drain: waiting: " + why);
          out.flush();
          last = why;
        }
        if (System.nanoTime() > deadline) {
          out.println("kafka drain: gave up after " + timeout + " s: " + why);
          out.flush();
          return 1;
        }
        TimeUnit.SECONDS.sleep(2);
      }
    }
  }
}
