package io.kontrol.agent.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.Client;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerException;
import io.kontrol.agent.status.GroupStatus;
import io.kontrol.agent.status.GroupStatusReader;
import io.kontrol.agent.status.GroupTable;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol status}: the local agent's status through its peer API on {@code
 * localhost:KONTROL_PORT} (exit 0 ok, 1 refused, 3 not running or not answering); with {@code
 * --group [NS/]APP}, the whole group as {@code patronictl list} shows a cluster: read from etcd,
 * each member asked through its peer API. Exit 0 healthy, 1 degraded (no leader, a member behind,
 * in error or not answering) or no such group, 3 etcd unreachable.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = {
      "Status of the agent of this pod (localhost:KONTROL_PORT): record, groups, automaton state.",
      "With --group: the whole group from etcd and each member's peer API (exit 0 healthy,"
          + " 1 degraded or no such group, 3 etcd unreachable)."
    })
public final class StatusCommand implements Callable<Integer> {

  static final int HEALTHY = 0;
  static final int DEGRADED = 1;
  static final int ETCD_UNREACHABLE = 3;

  enum Format { table, json, yaml }

  @ParentCommand KontrolCommand parent;
  @Spec CommandSpec spec;
  @Mixin PeerCommand.Call call;

  @Option(names = "--json", description = "Print JSON instead of a table (as --format json).")
  boolean json;

  @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", description = "table, json or yaml (default: table).")
  Format format;

  @Option(names = {"-g", "--group"}, paramLabel = "[NS/]APP",
      description = "A whole group, /kontrol/NS/APP (NS: $NAMESPACE, else default).")
  String group;

  @Option(names = {"-w", "--watch"}, paramLabel = "SECONDS", description = "With --group: print again every SECONDS until interrupted.")
  Double watch;

  @Option(names = "--etcd", paramLabel = "ENDPOINTS", description = "With --group: etcd (default: KONTROL_ETCD, else KONTROL_HOST).")
  String etcd;

  private Format format() {
    return format != null ? format : json ? Format.json : Format.table;
  }

  @Override
  public Integer call() throws InterruptedException, PeerException {
    if (group == null) {
      if (watch != null) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--watch needs --group");
      }
      return PeerCommand.withClient(spec, parent.env(), "127.0.0.1", (client, host, port) -> {
        PrintWriter out = spec.commandLine().getOut();
        if (format() == Format.yaml) {
          StringWriter sw = new StringWriter();
          StatusPrinter.print(new PrintWriter(sw), client.status(host, port, call.timeout()), true);
          try {
            Object tree = new ObjectMapper().readValue(sw.toString(), Object.class);
            out.print(new Dump(DumpSettings.builder().build()).dumpToString(tree));
          } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
          }
          out.flush();
        } else {
          StatusPrinter.print(out, client.status(host, port, call.timeout()), format() == Format.json);
        }
        return 0;
      });
    }
    if (watch != null && !(watch > 0)) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--watch must be a positive number of seconds, not " + watch);
    }
    Map<String, String> env = parent.env();
    Group g = parseGroup(group, env.getOrDefault(AgentConfig.NAMESPACE, "default"));
    List<String> endpoints;
    PeerConfig peerConfig;
    try {
      endpoints = AgentConfig.etcdEndpoints(etcd == null ? env : Map.of(AgentConfig.KONTROL_ETCD, etcd));
      peerConfig = PeerConfig.fromEnv(env);
    } catch (IllegalArgumentException e) { // ConfigException included
      spec.commandLine().getErr().println("kontrol: " + e.getMessage());
      return 2;
    }
    Duration timeout = call.timeout();
    Client client = Client.builder()
        .endpoints(endpoints.toArray(String[]::new))
        .connectTimeout(Duration.ofMillis(Math.min(2000, timeout.toMillis())))
        .build();
    try (PeerClient peers = new PeerClient(peerConfig)) {
      GroupStatusReader reader = new GroupStatusReader(client, peers, peerConfig.port(), timeout);
      while (true) {
        int code = once(reader, g, String.join(",", endpoints));
        if (watch == null) {
          return code;
        }
        try {
          // --watch SECONDS is the operator's refresh interval, a fixed delay by definition
          Thread.sleep((long) (watch * 1000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return code; // interrupted while watching: the last answer stands
        }
      }
    } finally {
      client.close();
    }
  }

  private int once(GroupStatusReader reader, Group g, String endpoints) throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (watch != null && format() == Format.table) {
      out.println(Instant.now());
    }
    try {
      GroupStatus s = reader.read(g);
      out.print(switch (format()) {
        case json -> GroupTable.json(s);
        case yaml -> GroupTable.yaml(s);
        case table -> GroupTable.table(s);
      });
      out.flush();
      return s.healthy() ? HEALTHY : DEGRADED;
    } catch (GroupStatusReader.NoSuchGroup e) {
      err.println("kontrol: " + e.getMessage());
      err.flush();
      return DEGRADED;
    } catch (GroupStatusReader.EtcdUnreachable e) {
      err.println("kontrol: " + e.getMessage() + " (etcd at " + endpoints + ")");
      err.flush();
      return ETCD_UNREACHABLE;
    }
  }

  private Group parseGroup(String s, String defaultNamespace) {
    try {
      return Group.parse(s, defaultNamespace);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--group " + s + ": " + e.getMessage());
    }
  }
}
