package io.kontrol.agent.callback;

import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;

/**
 * Runs the callback command as a {@link ShellCommand}: {@code /bin/sh -c} in a process group of
 * its own, with exactly the environment given. On timeout, or when the caller is interrupted, the
 * whole process group is killed, so a callback's children never outlive it.
 */
public final class CallbackRunner implements Callback {
  /** The most of a callback's stdout kept: a state larger than this is refused (etcd takes 1.5 MiB a write). */
  public static final int MAX_STDOUT = 1 << 20;
  /** The most of a callback's stderr kept: its last lines, for the log. */
  public static final int MAX_STDERR = 8 << 10;

  private final String command;
  private final Duration timeout;

  public CallbackRunner(String command, Duration timeout) {
    this.command = command;
    this.timeout = timeout;
  }

  public String command() {
    return command;
  }

  /**
   * Runs the command once and waits for it, at most the timeout.
   *
   * @throws InterruptedException after killing the process group, when interrupted
   */
  @Override
  public CallbackResult run(Map<String, String> env) throws InterruptedException {
    ShellCommand.Result r;
    try {
      r = ShellCommand.of(command).environment(env).run(timeout, Capture.head(MAX_STDOUT), Capture.tail(MAX_STDERR));
    } catch (IOException e) {
      return new CallbackResult(127, false, "", "cannot start /bin/sh: " + e.getMessage(), Duration.ZERO);
    }
    return new CallbackResult(r.exitCode(), r.timedOut(), r.stdout().text(), r.stderr().text(), r.took(),
        r.stdout().truncated());
  }
}
