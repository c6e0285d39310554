package io.kontrol.agent.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code kontrol status}: the local agent's status through its peer API on {@code
 * localhost:KONTROL_PORT}. Exit 0 ok, 1 refused, 3 not running or not answering.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Status of the agent of this pod (localhost:KONTROL_PORT): record, groups, automaton state.")
public final class StatusCommand implements Callable<Integer> {

  @ParentCommand KontrolCommand parent;
  @Spec CommandSpec spec;
  @Mixin PeerCommand.Call call;

  @Option(names = "--json", description = "Print JSON instead of a table.")
  boolean json;

  @Override
  public Integer call() {
    return PeerCommand.withClient(spec, parent.env(), "127.0.0.1", (client, host, port) -> {
      PeerCommand.print(spec.commandLine().getOut(), client.status(host, port, call.timeout()), json);
      return 0;
    });
  }
}
