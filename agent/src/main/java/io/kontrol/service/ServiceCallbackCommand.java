package io.kontrol.service;

import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol callback <service>}: the contract every service's leader callback keeps with the
 * agent, which runs it as {@code KONTROL_CALLBACK} with {@code $PODS} and {@code $STATE}. It prints
 * the new state on stdout and exits 0; or prints nothing on stdout and exits 1 when a member did
 * not apply the change (the agent keeps the old state and retries), 2 when the input or the peer
 * settings ({@code KONTROL_PORT}, {@code KONTROL_TOKEN...}, {@code KONTROL_TLS_*}) are unusable
 * (kontrol's exit-code mapper prints the one-line reason). Progress goes to stderr, one line per
 * member, prefixed with the service's name.
 *
 * <p>A service subclasses it with a picocli {@code @Command(name = "<service>")}, a constructor
 * taking the environment, and {@link #callback}.
 */
public abstract class ServiceCallbackCommand implements Callable<Integer> {
  private final Map<String, String> env;

  @Spec CommandSpec spec;

  @Option(
      names = "--timeout",
      paramLabel = "SECONDS",
      defaultValue = "30",
      description =
          "per member, for its configure to finish (default: ${DEFAULT-VALUE}); a member"
              + " that died mid-call holds the group's next change back this long")
  int timeoutSeconds;

  /** @param env the environment: {@code $PODS}, {@code $STATE} and the peer API's settings */
  protected ServiceCallbackCommand(Map<String, String> env) {
    this.env = Map.copyOf(env);
  }

  /** The service's callback, sending its transitions through {@code fanout}. */
  protected abstract ServiceCallback callback(Fanout fanout, Consumer<String> log);

  /**
   * @throws CallbackException when the input is unusable or a member did not apply the change
   * @throws io.kontrol.agent.config.ConfigException when a peer setting is unusable
   */
  @Override
  public Integer call() throws CallbackException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String name = spec.name();
    Consumer<String> log =
        line -> {
          err.println(name + ": " + line);
          err.flush();
        };
    PeerConfig config = PeerConfig.fromEnv(env);
    Duration timeout = Duration.ofSeconds(Math.max(1, timeoutSeconds));
    try (PeerClient peers = new PeerClient(config)) {
      Fanout fanout = new Fanout(Fanout.peers(peers, config.port(), timeout), log);
      String state = callback(fanout, log).run(CallbackInput.fromEnvironment(env, log));
      out.println(state);
      out.flush();
      return 0;
    }
  }
}
