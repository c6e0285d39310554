package io.kontrol.agent.rpc;

import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.io.IOException;
import java.time.Duration;

/**
 * Runs one {@code Invoke} command as a {@link ShellCommand}: {@code /bin/sh -c} in a process group
 * of its own, stdout and stderr merged, the output kept up to a limit and the rest drained, the
 * whole group killed at the timeout.
 */
final class InvokeRunner {

  private final int maxOutput;

  InvokeRunner(int maxOutput) {
    this.maxOutput = maxOutput;
  }

  InvokeResult run(String command, Duration timeout) throws IOException, InterruptedException {
    ShellCommand.Result r = ShellCommand.of(command).mergeOutput().run(timeout, Capture.head(maxOutput), Capture.none());
    return new InvokeResult(r.exitCode(), r.stdout().text(), r.stdout().truncated(), r.timedOut());
  }
}
