package io.kontrol.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kontrol.agent.rpc.InvokeResult;
import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerException;
import io.kontrol.agent.rpc.TransitionResult;
import io.kontrol.agent.rpc.v1.Group;
import io.kontrol.agent.rpc.v1.StatusReply;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

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
    subcommands = {PeerCommand.Transition.class, PeerCommand.Status.class, PeerCommand.Invoke.class})
public final class PeerCommand implements Callable<Integer> {

  @ParentCommand KontrolCommand parent;

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "HOST[:PORT]", description = "The pod: an IP or name, port KONTROL_PORT (8000) unless given.")
  String target;

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

  /** Runs {@code body} against the target with a client, mapping bad settings to exit 2. */
  static int withClient(CommandSpec spec, Map<String, String> env, String target, Body body) {
    PeerConfig config;
    try {
      config = PeerConfig.fromEnv(env);
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("kontrol: " + e.getMessage());
      return 2;
    }
    String[] hp = split(target, config.port());
    int port;
    try {
      port = Integer.parseInt(hp[1]);
    } catch (NumberFormatException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "not a port: '" + hp[1] + "' in " + target);
    }
    try (PeerClient client = new PeerClient(config)) {
      return body.run(client, hp[0], port);
    } catch (PeerException e) {
      spec.commandLine().getErr().println("kontrol: " + e.getMessage());
      return e.outcome().exitCode();
    }
  }

  @FunctionalInterface
  interface Body {
    int run(PeerClient client, String host, int port) throws PeerException;
  }

  @Command(name = "transition", mixinStandardHelpOptions = true,
      description = "Ask the pod's automaton to go to STATE (GOTO), or with --wait to go and finish it (WAIT).")
  static final class Transition implements Callable<Integer> {
    @ParentCommand PeerCommand peer;
    @Spec CommandSpec spec;
    @CommandLine.Mixin Call call;

    @Parameters(index = "0", paramLabel = "STATE") String state;

    @Parameters(index = "1", paramLabel = "INPUT", arity = "0..1", description = "$INPUT for the state's script (one line, at most 1 MiB).")
    String input;

    @Option(names = "--wait", description = "Reply when the state's script has finished.")
    boolean waitForIt;

    @Override
    public Integer call() {
      return withClient(spec, peer.env(), peer.target, (client, host, port) -> {
        TransitionResult r = client.transition(host, port, state, input, waitForIt, call.timeout());
        PrintWriter out = spec.commandLine().getOut();
        if (r.ok()) {
          out.println("OK " + r.state());
        } else {
          spec.commandLine().getErr().println(r.outcome() + " " + r.reason() + (r.state().isEmpty() ? "" : " (state " + r.state() + ")"));
        }
        out.flush();
        return r.outcome().exitCode();
      });
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true, description = "The pod's record, groups, automaton state, version and uptime.")
  static final class Status implements Callable<Integer> {
    @ParentCommand PeerCommand peer;
    @Spec CommandSpec spec;
    @CommandLine.Mixin Call call;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() {
      return withClient(spec, peer.env(), peer.target, (client, host, port) -> {
        print(spec.commandLine().getOut(), client.status(host, port, call.timeout()), json);
        return 0;
      });
    }
  }

  @Command(name = "invoke", mixinStandardHelpOptions = true,
      description = "Run a shell command on the pod (refused unless it runs with KONTROL_ALLOW_INVOKE=true).")
  static final class Invoke implements Callable<Integer> {
    @ParentCommand PeerCommand peer;
    @Spec CommandSpec spec;
    @CommandLine.Mixin Call call;

    @Parameters(index = "0", paramLabel = "COMMAND") String command;

    @Override
    public Integer call() {
      return withClient(spec, peer.env(), peer.target, (client, host, port) -> {
        InvokeResult r = client.invoke(host, port, command, call.timeout());
        spec.commandLine().getOut().print(r.output());
        spec.commandLine().getOut().flush();
        if (r.truncated()) {
          spec.commandLine().getErr().println("kontrol: output truncated by the pod");
        }
        if (r.timedOut()) {
          spec.commandLine().getErr().println("kontrol: the command timed out and was killed");
          return 3;
        }
        return r.exitCode() == 0 ? 0 : 1;
      });
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper()
      .configure(SerializationFeature.INDENT_OUTPUT, true);

  /** Prints a status as a two-column table, or as JSON. */
  static void print(PrintWriter out, StatusReply s, boolean json) {
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", s.getId());
      m.put("ip", s.getIp());
      m.put("mode", s.getMode());
      m.put("automaton_state", s.getAutomatonState());
      m.put("version", s.getVersion());
      m.put("uptime_ms", s.getUptimeMs());
      m.put("record", parse(s.getRecordJson()));
      m.put("groups", s.getGroupsList().stream().map(g -> {
        Map<String, Object> gm = new LinkedHashMap<>();
        gm.put("key", g.getKey());
        gm.put("leader", g.getLeader());
        gm.put("record", parse(g.getRecordJson()));
        return gm;
      }).toList());
      m.put("last_state", parse(s.getLastStateJson()));
      try {
        out.println(JSON.writeValueAsString(m));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    } else {
      row(out, "id", s.getId());
      row(out, "ip", s.getIp());
      row(out, "mode", s.getMode());
      row(out, "state", s.getAutomatonState().isEmpty() ? "(automaton not answering)" : s.getAutomatonState());
      row(out, "version", s.getVersion());
      row(out, "uptime", uptime(s.getUptimeMs()));
      List<Group> groups = s.getGroupsList();
      for (Group g : groups) {
        row(out, "group", g.getKey() + (g.getLeader() ? "  (leader)" : ""));
      }
      if (!s.getRecordJson().isEmpty()) {
        row(out, "record", s.getRecordJson());
      }
      if (!s.getLastStateJson().isEmpty()) {
        row(out, "last state", s.getLastStateJson());
      }
    }
    out.flush();
  }

  private static Object parse(String json) {
    if (json == null || json.isEmpty()) {
      return null;
    }
    try {
      return JSON.readTree(json);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return json;
    }
  }

  private static void row(PrintWriter out, String name, String value) {
    out.printf("%-11s %s%n", name, value == null || value.isEmpty() ? "-" : value);
  }

  private static String uptime(long ms) {
    long s = ms / 1000;
    return String.format("%dh%02dm%02ds", s / 3600, (s / 60) % 60, s % 60);
  }
}
