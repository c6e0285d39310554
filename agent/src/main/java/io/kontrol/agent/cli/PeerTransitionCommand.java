package io.kontrol.agent.cli;

import io.kontrol.agent.rpc.PeerException;
import io.kontrol.agent.rpc.TransitionResult;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code kontrol peer HOST[:PORT] transition STATE [INPUT] [--wait]}: GOTO or WAIT on the pod's automaton. */
@Command(name = "transition", mixinStandardHelpOptions = true,
    description = "Ask the pod's automaton to go to STATE (GOTO), or with --wait to go and finish it (WAIT).")
public final class PeerTransitionCommand implements Callable<Integer> {
  @ParentCommand PeerCommand peer;
  @Spec CommandSpec spec;
  @CommandLine.Mixin PeerCommand.Call call;

  @Parameters(index = "0", paramLabel = "STATE") String state;

  @Parameters(index = "1", paramLabel = "INPUT", arity = "0..1", description = "$INPUT for the state's script (one line; with the state at most 64 KiB, the automaton's line limit).")
  String input;

  @Option(names = "--wait", description = "Reply when the state's script has finished.")
  boolean waitForIt;

  @Override
  public Integer call() throws PeerException {
    return PeerCommand.withClient(spec, peer.env(), peer.target(), (client, host, port) -> {
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
