package io.kontrol.agent.cli;

import io.etcd.jetcd.Client;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.groupconfig.GroupConfigStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code kontrol config get|put [NS/]APP}: a group's configuration in etcd, which the group's
 * leader applies to every member at once. Exit codes: 0 ok, 1 refused (the reason on stderr,
 * nothing stored), 2 usage, 3 etcd did not answer.
 */
@Command(
    name = "config",
    mixinStandardHelpOptions = true,
    description = "Read or replace a group's configuration (/kontrol/NS/APP/config), applied by the group's leader.",
    subcommands = {ConfigGetCommand.class, ConfigPutCommand.class})
public final class ConfigCommand {

  @ParentCommand KontrolCommand parent;

  Map<String, String> env() {
    return parent.env();
  }

  /** The etcd settings every config subcommand takes. */
  static final class Etcd {
    @Option(names = "--etcd", paramLabel = "ENDPOINTS", description = "etcd (default: KONTROL_ETCD, else KONTROL_HOST).")
    String etcd;

    @Option(names = "--timeout", paramLabel = "S", defaultValue = "5", description = "Give up on etcd after S seconds (default ${DEFAULT-VALUE}).")
    double timeout;

    Duration timeout() {
      return Duration.ofMillis(Math.max(1, (long) (timeout * 1000)));
    }

    /** A client on the endpoints (a bad KONTROL_ETCD is a ConfigException: exit 2). */
    Client client(Map<String, String> env) {
      List<String> endpoints = AgentConfig.etcdEndpoints(etcd == null ? env : Map.of(AgentConfig.KONTROL_ETCD, etcd));
      return Client.builder()
          .endpoints(endpoints.toArray(String[]::new))
          .connectTimeout(Duration.ofMillis(Math.min(2000, timeout().toMillis())))
          .build();
    }

    GroupConfigStore store(Client client) {
      return new GroupConfigStore(client.getKVClient(), timeout());
    }
  }

  /** {@code [NS/]APP} as a group ({@code NAMESPACE}, else {@code default}); a bad one is a usage error. */
  static Group group(CommandSpec spec, Map<String, String> env, String s) {
    try {
      return Group.parse(s, env.getOrDefault(AgentConfig.NAMESPACE, "default"));
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "group " + s + ": " + e.getMessage());
    }
  }
}
