package io.kontrol.agent.cli;

import ch.qos.logback.classic.Level;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.sidecar.Sidecar;
import io.kontrol.automaton.process.Signals;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/**
 * {@code kontrol run}: runs the agent until SIGTERM/SIGINT/SIGHUP, then leaves its groups at once
 * (lease revoked, leadership resigned) and exits 0. Exit 2 with a one-line error on bad settings.
 */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = "Run the agent: register, elect, watch, call back (the default command).")
public final class RunCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

  @ParentCommand KontrolCommand parent;

  @Mixin AgentOptions options;

  @Override
  public Integer call() throws InterruptedException {
    return runAgent(options.config(PodInfo.environment(parent.env())));
  }

  /** Runs the agent's {@link Sidecar} with {@code config} until a termination signal; then 0. */
  static int runAgent(AgentConfig config) throws InterruptedException {
    if (config.isVerbose()) {
      ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.kontrol")).setLevel(Level.DEBUG);
    }
    io.kontrol.automaton.logging.LogFormat.field("pod", config.id()); // a field of every JSON log line
    Sidecar sidecar = Sidecar.start(config);
    CountDownLatch stop = new CountDownLatch(1);
    Signals.onTermination(signal -> {
      LOG.info("received SIG{} pod={}: leaving", signal, config.id());
      stop.countDown();
    });
    // any other way out of the JVM still leaves the groups
    Thread hook = new Thread(sidecar::close, "kontrol-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      stop.await();
    } finally {
      sidecar.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down
      }
    }
    return 0;
  }
}
