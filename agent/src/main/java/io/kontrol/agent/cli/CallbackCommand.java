package io.kontrol.agent.cli;

import io.kontrol.agent.callback.nats.CallbackException;
import io.kontrol.agent.callback.nats.NatsCallback;
import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.TransitionResult;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol callback <service>}: the leader's callbacks for the service images, run by the
 * agent as {@code KONTROL_CALLBACK} with {@code $PODS} and {@code $STATE}. Each prints the new
 * state (JSON) on stdout and exits 0, or exits non-zero so the agent keeps the old state and
 * retries. Progress goes to stderr, one line per broker.
 *
 * <p>Exit codes: 0 done, 1 a peer did not apply the change, 2 bad input.
 */
@Command(
    name = "callback",
    mixinStandardHelpOptions = true,
    description = "Leader callbacks of the service images (run by the agent with $PODS and $STATE).")
public final class CallbackCommand {

  @ParentCommand KontrolCommand parent;

  @Spec CommandSpec spec;

  @Command(
      name = "nats",
      mixinStandardHelpOptions = true,
      description = {
        "Sends every NATS broker of the group a 'configure' transition with the peer list when it"
            + " changed, through the peer API (KONTROL_PORT, KONTROL_TOKEN...), and prints the new"
            + " state."
      })
  int nats(
      @Option(
              names = "--timeout",
              paramLabel = "SECONDS",
              defaultValue = "30",
              description =
                  "per broker, for its configure to finish (default: ${DEFAULT-VALUE}); a broker"
                      + " that died mid-call holds the group's next change back this long")
          int timeoutSeconds) {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Map<String, String> env = parent == null ? System.getenv() : parent.env();
    PeerConfig config;
    try {
      config = PeerConfig.fromEnv(env);
    } catch (IllegalArgumentException e) {
      err.println("kontrol callback nats: " + e.getMessage());
      err.flush();
      return 2;
    }
    Duration timeout = Duration.ofSeconds(Math.max(1, timeoutSeconds));
    try (PeerClient peers = new PeerClient(config)) {
      NatsCallback callback =
          new NatsCallback(
              (ip, input) -> {
                TransitionResult r =
                    peers.transition(ip, config.port(), NatsCallback.CONFIGURE, input, true, timeout);
                return r.ok() ? null : r.outcome() + (r.reason().isEmpty() ? "" : ": " + r.reason());
              },
              line -> {
                err.println(line);
                err.flush();
              });
      String state = callback.run(env.get("PODS"), env.get("STATE"));
      out.println(state);
      out.flush();
      return 0;
    } catch (CallbackException e) {
      err.println("kontrol callback nats: " + e.getMessage());
      err.flush();
      return e.badInput() ? 2 : 1;
    }
  }
}
