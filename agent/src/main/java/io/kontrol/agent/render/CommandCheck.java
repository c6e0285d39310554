package io.kontrol.agent.render;

import io.kontrol.automaton.process.Capture;
import io.kontrol.automaton.process.ShellCommand;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Checks a rendered file with the service's own validator before it replaces the running config,
 * e.g. {@code nats-server -t -c {}} or {@code haproxy -c -f {}}: {@code {}} stands for the staged
 * file (it is also {@code $1}). The command runs as a {@link ShellCommand} ({@code /bin/sh -c} in a
 * process group of its own, killed whole at the timeout); a non-zero exit, or no exit within the
 * timeout, rejects the file with the command's last output lines as the reason.
 */
public final class CommandCheck implements AtomicFile.Check {

  private static final int MAX_REASON = 2000;

  private final String command;
  private final Duration timeout;

  public CommandCheck(String command, Duration timeout) {
    this.command = command;
    this.timeout = timeout;
  }

  @Override
  public void verify(Path staged) throws IOException, RenderException {
    String quoted = "'" + staged.toString().replace("'", "'\\''") + "'";
    ShellCommand.Result r;
    try {
      r = ShellCommand.of(command.replace("{}", quoted))
          .args("check", staged.toString())
          .mergeOutput()
          .run(timeout, Capture.tail(MAX_REASON * 4), Capture.none());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while checking the rendered file", e);
    }
    if (r.timedOut()) {
      throw new RenderException(
          "check '" + command + "' did not finish within " + timeout.toSeconds() + " s (its process group was killed)",
          -1);
    }
    if (r.exitCode() != 0) {
      throw new RenderException(
          "check '" + command + "' rejected the rendered file (exit " + r.exitCode() + ")"
              + reason(r.stdout().text(), staged),
          -1);
    }
  }

  private static String reason(String output, Path staged) {
    String text = output.strip().replace(staged.toString(), "<rendered>");
    if (text.length() > MAX_REASON) {
      text = "..." + text.substring(text.length() - MAX_REASON);
    }
    return text.isEmpty() ? "" : ": " + text;
  }
}
