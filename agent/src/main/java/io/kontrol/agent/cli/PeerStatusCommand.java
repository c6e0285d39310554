package io.kontrol.agent.cli;

import io.kontrol.agent.rpc.PeerException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code kontrol peer HOST[:PORT] status [--json]}: the pod's status. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "The pod's record, groups, automaton state, version and uptime.")
public final class PeerStatusCommand implements Callable<Integer> {
  @ParentCommand PeerCommand peer;
  @Spec CommandSpec spec;
  @CommandLine.Mixin PeerCommand.Call call;

  @Option(names = "--json", description = "Print JSON instead of a table.")
  boolean json;

  @Override
  public Integer call() throws PeerException {
    return PeerCommand.withClient(spec, peer.env(), peer.target(), (client, host, port) -> {
      StatusPrinter.print(spec.commandLine().getOut(), client.status(host, port, call.timeout()), json);
      return 0;
    });
  }
}
