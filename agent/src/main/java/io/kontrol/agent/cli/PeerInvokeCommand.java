package io.kontrol.agent.cli;

import io.kontrol.agent.rpc.InvokeResult;
import io.kontrol.agent.rpc.PeerException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code kontrol peer HOST[:PORT] invoke COMMAND}: a shell command on the pod, when it allows it. */
@Command(name = "invoke", mixinStandardHelpOptions = true,
    description = "Run a shell command on the pod (refused unless it runs with KONTROL_ALLOW_INVOKE=true).")
public final class PeerInvokeCommand implements Callable<Integer> {
  @ParentCommand PeerCommand peer;
  @Spec CommandSpec spec;
  @CommandLine.Mixin PeerCommand.Call call;

  @Parameters(index = "0", paramLabel = "COMMAND") String command;

  @Override
  public Integer call() throws PeerException {
    return PeerCommand.withClient(spec, peer.env(), peer.target(), (client, host, port) -> {
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
