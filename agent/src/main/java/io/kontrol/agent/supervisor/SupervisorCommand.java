package io.kontrol.agent.supervisor;

import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.io.IOException;
import java.time.Duration;

/**
 * One {@code supervisorctl} call (start, restart, signal, status of a pod's program) as a lifecycle
 * command makes it, bounded in time, with its output merged and kept (its last 4 KiB).
 */
public final class SupervisorCommand {

  /** What the call gave: ok when it exited 0 within the time and reported no error; the reason otherwise. */
  public record Outcome(boolean ok, String reason) {}

  private SupervisorCommand() {}

  /**
   * Runs {@code command} ({@code /bin/sh -c}).
   *
   * @throws InterruptedException when the caller is interrupted (the command is killed)
   */
  public static Outcome run(String command, Duration timeout) throws IOException, InterruptedException {
    ShellCommand.Result r = ShellCommand.of(command).mergeOutput().run(timeout, Capture.tail(4096), Capture.none());
    String output = r.stdout().text().strip();
    // supervisorctl 4.2 exits 0 even when a start failed ("ERROR (spawn error)")
    boolean ok = !r.timedOut() && r.exitCode() == 0 && !output.contains("ERROR");
    return new Outcome(ok, ok ? "" : "'" + command + "' failed (" + (r.timedOut() ? "timed out" : "exit " + r.exitCode()) + "): " + output);
  }
}
