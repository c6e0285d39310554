package io.kontrol.agent.cli;

import ch.qos.logback.classic.Level;
import io.kontrol.agent.Agent;
import io.kontrol.agent.annotations.LiveAnnotations;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.identity.IdentityResolver;
import io.kontrol.agent.identity.KubernetesIdentity;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.metrics.Observability;
import io.kontrol.agent.rpc.LastInputs;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/**
 * {@code kontrol run}: runs the agent until SIGTERM/SIGINT, then leaves its groups at once
 * (lease revoked, leadership resigned) and exits 0. Exit 2 with a one-line error on bad settings.
 */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = "Run the agent: register, elect, watch, call back (the default command).")
public final class RunCommand implements Callable<Integer> {
  @ParentCommand KontrolCommand parent;

  @Mixin AgentOptions options;

  @Override
  public Integer call() throws InterruptedException {
    return runAgent(options.config(PodInfo.environment(parent.env())));
  }

  /** Runs an agent with {@code config} until the JVM is asked to stop. */
  static int runAgent(AgentConfig config) throws InterruptedException {
    if (config.isVerbose()) {
      ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.kontrol")).setLevel(Level.DEBUG);
    }
    // the HTTP endpoint (KONTROL_HTTP_PORT) binds first: a port in use stops here, exit 2
    Observability observe = Observability.start(config);
    // the peer API (KONTROL_PORT) lives as long as the agent: closed with it
    io.kontrol.agent.rpc.AgentStatusSource peerStatus = new io.kontrol.agent.rpc.AgentStatusSource(config);
    LastInputs inputs = new LastInputs();
    PeerServer peer;
    try {
      peer = io.kontrol.agent.rpc.AgentStatusSource.startServer(config, peerStatus, observe.events(), inputs);
    } catch (RuntimeException e) {
      observe.close();
      throw e;
    }
    // the pod's annotations are followed as long as the agent runs: closed with it
    LiveAnnotations live;
    try {
      live = LiveAnnotations.start(config.env(), config.id(), PeerConfig.fromEnv(config.env()).socket(), inputs,
          IdentityResolver.needsKubernetes(config.env()) && !Files.exists(PodInfo.file(config.env()))
              ? KubernetesIdentity.inClusterClient() : null);
    } catch (IOException e) {
      peer.close();
      observe.close();
      throw new UncheckedIOException(e.getMessage(), e);
    }
    Agent agent = Agent.start(config, observe.events(), live, peer, observe);
    peerStatus.attach(agent);
    observe.attach(agent);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    agent.close();
                  } finally {
                    stopped.countDown();
                  }
                },
                "kontrol-shutdown"));
    stopped.await();
    return 0;
  }
}
