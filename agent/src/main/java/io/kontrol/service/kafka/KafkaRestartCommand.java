package io.kontrol.service.kafka;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol kafka restart}: the lifecycle's {@code restart} state, sent by the group's leader
 * one pod at a time during a rolling restart (see {@link KafkaRestart}).
 *
 * <p>Exit codes: 0 the new broker JVM is RUNNING, 1 it is not (the leader's run fails and is
 * retried; supervisord keeps starting the broker).
 */
@Command(
    name = "restart",
    mixinStandardHelpOptions = true,
    description = "Restart this pod's broker (controlled shutdown, start) and wait until it is RUNNING; for the leader's rolling restart.")
public final class KafkaRestartCommand implements Callable<Integer> {

  @ParentCommand KafkaCommand kafka;

  @Spec CommandSpec spec;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "90", description = "the longest wait for the new JVM to be RUNNING once started (default: ${DEFAULT-VALUE})")
  int timeout;

  @Option(names = "--jmx-port", paramLabel = "PORT", defaultValue = "9999", description = "the broker's loopback JMX port (default: ${DEFAULT-VALUE})")
  int jmxPort;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    SupervisedBroker broker = new SupervisedBroker(KafkaCommand.STORAGE_TOOL);
    try (BrokerProbe probe = new BrokerProbe("127.0.0.1", jmxPort, 3000)) {
      KafkaRestart restart =
          new KafkaRestart(
              broker,
              probe::probe,
              new PayloadFile(kafka.payload()),
              line -> {
                out.println(line);
                out.flush();
              },
              Duration.ofSeconds(timeout),
              Duration.ofSeconds(1));
      return restart.restart();
    }
  }
}
