package io.kontrol.service.kafka;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol kafka watch}: the pod's broker watchdog, a supervisord program. Kills (through
 * supervisord, which starts it again) a broker that no longer answers or is stuck, never one
 * recovering its logs; counts every restart in the payload. Runs until SIGTERM.
 */
@Command(
    name = "watch",
    mixinStandardHelpOptions = true,
    description = "Watch the local broker; restart it when it stops serving (never while it recovers its logs).")
public final class KafkaWatchCommand implements Callable<Integer> {

  @ParentCommand KafkaCommand kafka;

  @Spec CommandSpec spec;

  @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "2", description = "between probes (default: ${DEFAULT-VALUE})")
  int interval;

  @Option(names = "--unresponsive", paramLabel = "SECONDS", defaultValue = "10", description = "of silence before the broker is killed (default: ${DEFAULT-VALUE})")
  int unresponsive;

  @Option(names = "--stuck", paramLabel = "SECONDS", defaultValue = "300", description = "in a state other than RUNNING or RECOVERY before it is killed (default: ${DEFAULT-VALUE})")
  int stuck;

  @Option(names = "--grace", paramLabel = "SECONDS", defaultValue = "60", description = "a fresh JVM has before its silence counts (default: ${DEFAULT-VALUE})")
  int grace;

  @Option(names = "--jmx-port", paramLabel = "PORT", defaultValue = "9999", description = "the broker's loopback JMX port (default: ${DEFAULT-VALUE})")
  int jmxPort;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    SupervisedBroker broker = new SupervisedBroker(KafkaCommand.STORAGE_TOOL);
    CountDownLatch stop = new CountDownLatch(1);
    Thread hook = new Thread(stop::countDown, "kafka-watch-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    long probeMs = Math.max(500, Math.min(interval * 1000L, 3000));
    try (BrokerProbe probe = new BrokerProbe("127.0.0.1", jmxPort, probeMs)) {
      KafkaWatch watch =
          new KafkaWatch(
              broker,
              probe::probe,
              new PayloadFile(kafka.payload()),
              line -> {
                out.println(line);
                out.flush();
              },
              Duration.ofSeconds(grace),
              Duration.ofSeconds(unresponsive),
              Duration.ofSeconds(stuck));
      out.println("kafka watch: probing the broker every " + interval + " s (JMX 127.0.0.1:" + jmxPort + ")");
      out.flush();
      while (!stop.await(interval, TimeUnit.SECONDS)) {
        try {
          watch.tick(System.nanoTime() / 1_000_000);
        } catch (IOException e) {
          out.println("kafka watch: " + e.getMessage());
          out.flush();
        }
      }
    }
    return 0;
  }
}
