package io.kontrol.agent.cli;

import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * {@code kontrol peer HOST[:PORT] transition|status|invoke}: the peer API from a shell (callback
 * scripts, operators). Token and TLS from {@code KONTROL_TOKEN}/{@code KONTROL_TOKEN_FILE} and
 * {@code KONTROL_TLS_*}, as for the server. Exit codes: 0 ok, 1 refused or KO, 2 usage, 3
 * unreachable or timed out.
 */
@Command(
    name = "peer",
    mixinStandardHelpOptions = true,
    description = "Call a pod's peer API: transition its automaton, read its status.",
    subcommands = {PeerTransitionCommand.class, PeerStatusCommand.class, PeerInvokeCommand.class})
public final class PeerCommand implements Callable<Integer> {

  @ParentCommand KontrolCommand parent;

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "HOST[:PORT]", description = "The pod: an IP or name, port KONTROL_PORT (8000) unless given.")
  String target;

  /** The pod, as given. */
  String target() {
    return target;
  }

  @Override
  public Integer call() {
    throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: transition, status or invoke");
  }

  Map<String, String> env() {
    return parent.env();
  }

  /** Host and port of {@code HOST[:PORT]} ({@code [v6]:port} for IPv6). */
  static String[] split(String target, int defaultPort) {
    String host = target;
    String port = null;
    if (target.startsWith("[")) {
      int end = target.indexOf(']');
      host = target.substring(1, end);
      if (target.length() > end + 1 && target.charAt(end + 1) == ':') {
        port = target.substring(end + 2);
      }
    } else if (target.indexOf(':') >= 0 && target.indexOf(':') == target.lastIndexOf(':')) {
      host = target.substring(0, target.indexOf(':'));
      port = target.substring(target.indexOf(':') + 1);
    }
    return new String[] {host, port == null ? String.valueOf(defaultPort) : port};
  }

  /** Settings shared by every peer subcommand. */
  static final class Call {
    @Option(names = "--timeout", paramLabel = "S", description = "Give up after S seconds (default ${DEFAULT-VALUE}).", defaultValue = "10")
    double timeout;

    Duration timeout() {
      return Duration.ofMillis(Math.max(1, (long) (timeout * 1000)));
    }
  }

  /**
   * Runs {@code body} against the target with a client configured from {@code env}. A bad setting
   * ({@link io.kontrol.agent.config.ConfigException}) or a failed call ({@link PeerException})
   * goes to kontrol's exit-code mapper.
   */
  static int withClient(CommandSpec spec, Map<String, String> env, String target, Body body) throws PeerException {
    PeerConfig config = PeerConfig.fromEnv(env);
    String[] hp = split(target, config.port());
    int port;
    try {
      port = Integer.parseInt(hp[1]);
    } catch (NumberFormatException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "not a port: '" + hp[1] + "' in " + target);
    }
    try (PeerClient client = new PeerClient(config)) {
      return body.run(client, hp[0], port);
    }
  }

  @FunctionalInterface
  interface Body {
    int run(PeerClient client, String host, int port) throws PeerException;
  }
}
