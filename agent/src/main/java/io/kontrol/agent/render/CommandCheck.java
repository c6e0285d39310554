package io.kontrol.agent.render;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Checks a rendered file with the service's own validator before it replaces the running config,
 * e.g. {@code nats-server -t -c {}} or {@code haproxy -c -f {}}: {@code {}} stands for the staged
 * file (it is also {@code $1}). The command runs with {@code /bin/sh -c}; a non-zero exit, or no
 * exit within the timeout, rejects the file with the command's last output lines as the reason.
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
    // output goes to a file, not a pipe: a hung validator must not block us past the timeout
    Path log = Files.createTempFile("kontrol-check", ".log");
    try {
      Process process =
          new ProcessBuilder("/bin/sh", "-c", command.replace("{}", quoted), "check", staged.toString())
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      try {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          process.destroyForcibly();
          throw new RenderException(
              "check '" + command + "' did not finish within " + timeout.toSeconds() + " s", -1);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while checking the rendered file", e);
      }
      if (process.exitValue() != 0) {
        throw new RenderException(
            "check '" + command + "' rejected the rendered file (exit " + process.exitValue() + ")"
                + reason(Files.readString(log, StandardCharsets.UTF_8), staged),
            -1);
      }
    } finally {
      Files.deleteIfExists(log);
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
