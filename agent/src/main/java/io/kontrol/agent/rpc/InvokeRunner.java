package io.kontrol.agent.rpc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@code Invoke} command: {@code /bin/sh -c} in a session of its own (so its whole
 * process group can be killed), stdout and stderr merged, the output kept up to a limit and the
 * rest drained, the whole group killed at the timeout.
 */
final class InvokeRunner {

  private static final Logger LOG = LoggerFactory.getLogger(InvokeRunner.class);

  /** Wait for the output pump to see EOF once the group is gone. */
  private static final long DRAIN_MILLIS = 2_000;

  private final int maxOutput;

  InvokeRunner(int maxOutput) {
    this.maxOutput = maxOutput;
  }

  InvokeResult run(String command, Duration timeout) throws IOException, InterruptedException {
    // setsid: the shell leads a new process group whose id is its pid (the JVM's child is never
    // a group leader, so setsid execs in place instead of forking)
    Process process = new ProcessBuilder("setsid", "/bin/sh", "-c", command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    Pump pump = new Pump(process.getInputStream(), maxOutput);
    Thread reader = new Thread(pump, "kontrol-invoke-output-" + process.pid());
    reader.setDaemon(true);
    reader.start();

    boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (!finished) {
      killGroup(process.pid());
      process.waitFor(DRAIN_MILLIS, TimeUnit.MILLISECONDS);
    }
    // children that outlived the shell may still hold the pipe: kill what is left of the group
    reader.join(finished ? 200 : DRAIN_MILLIS);
    if (reader.isAlive()) {
      killGroup(process.pid());
      reader.join(DRAIN_MILLIS);
    }
    int code = finished ? process.exitValue() : -1;
    return new InvokeResult(code, pump.text(), pump.truncated(), !finished);
  }

  private static void killGroup(long pgid) {
    try {
      Process kill = new ProcessBuilder("kill", "-KILL", "--", "-" + pgid).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      kill.waitFor(2, TimeUnit.SECONDS);
    } catch (IOException e) {
      LOG.warn("cannot kill process group {}: {}", pgid, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Copies up to {@code max} bytes and drains the rest so the command never blocks on a full pipe. */
  private static final class Pump implements Runnable {
    private final InputStream in;
    private final int max;
    private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
    private volatile boolean truncated;

    Pump(InputStream in, int max) {
      this.in = in;
      this.max = max;
    }

    @Override
    public void run() {
      byte[] buf = new byte[8192];
      try (in) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          synchronized (kept) {
            int room = max - kept.size();
            if (room > 0) {
              kept.write(buf, 0, Math.min(room, n));
            }
            if (n > room) {
              truncated = true;
            }
          }
        }
      } catch (IOException e) {
        // the stream closes under us when the process is killed: what was read is kept
      }
    }

    String text() {
      synchronized (kept) {
        return kept.toString(StandardCharsets.UTF_8);
      }
    }

    boolean truncated() {
      return truncated;
    }
  }
}
