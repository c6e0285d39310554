package io.kontrol.agent.cli;

import io.etcd.jetcd.Client;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.groupconfig.GroupConfig;
import io.kontrol.agent.groupconfig.GroupConfigException;
import io.kontrol.agent.groupconfig.GroupConfigStore;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol config get [NS/]APP}: prints the group's configuration (indented JSON, ready for
 * {@code config put}) on stdout and its revision on stderr; {@code {}} and revision 0 when none
 * was ever stored. Exit 0; 1 when the stored document does not validate (it is printed anyway); 3
 * when etcd does not answer.
 */
@Command(name = "get", mixinStandardHelpOptions = true, description = "Print a group's configuration (revision on stderr).")
public final class ConfigGetCommand implements Callable<Integer> {

  @ParentCommand ConfigCommand parent;
  @Spec CommandSpec spec;
  @Mixin ConfigCommand.Etcd etcd;

  @Parameters(index = "0", paramLabel = "[NS/]APP", description = "The group (NS: $NAMESPACE, else default).")
  String group;

  @Override
  public Integer call() throws GroupConfigStore.Unreachable, GroupConfigException, InterruptedException {
    Group g = ConfigCommand.group(spec, parent.env(), group);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (Client client = etcd.client(parent.env())) {
      Optional<GroupConfigStore.Stored> stored = etcd.store(client).get(g);
      if (stored.isEmpty()) {
        out.print(GroupConfig.EMPTY.pretty());
        out.flush();
        err.println("kontrol config: " + g + " has no configuration (revision 0): the defaults apply");
        err.flush();
        return 0;
      }
      err.println("kontrol config: " + g + " revision " + stored.get().revision());
      err.flush();
      GroupConfig config;
      try {
        config = stored.get().config();
      } catch (GroupConfigException e) {
        out.println(stored.get().json());
        out.flush();
        throw new GroupConfigException("the stored configuration of " + g + " is not valid: " + e.getMessage());
      }
      out.print(config.pretty());
      out.flush();
      return 0;
    }
  }
}
