package io.kontrol.agent.callback;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the callback command with {@code /bin/sh -c} in a session (and so a process group) of its
 * own, with exactly the environment given. On timeout, or when the caller is interrupted, the
 * whole process group is killed, so a callback's children never outlive it.
 */
public final class CallbackRunner {
  private static final Logger LOG = LoggerFactory.getLogger(CallbackRunner.class);
  private static final int MAX_STDOUT = 1 << 20;
  private static final int MAX_STDERR = 8 << 10;
  private static final String SETSID = findSetsid();

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
  public CallbackResult run(Map<String, String> env) throws InterruptedException {
    List<String> argv = new ArrayList<>();
    if (SETSID != null) {
      argv.add(SETSID); // the child is not a group leader, so setsid execs in place: pid == pgid
    }
    argv.addAll(List.of("/bin/sh", "-c", command));
    ProcessBuilder pb = new ProcessBuilder(argv);
    pb.environment().clear();
    pb.environment().putAll(env);
    long t0 = System.nanoTime();
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return new CallbackResult(127, false, "", "cannot start /bin/sh: " + e.getMessage(), Duration.ZERO);
    }
    try {
      p.getOutputStream().close(); // no stdin: a callback that reads it sees end of file
    } catch (IOException ignored) {
      // already closed
    }
    Drain out = new Drain(p.getInputStream(), MAX_STDOUT, false, "kontrol-callback-out");
    Drain err = new Drain(p.getErrorStream(), MAX_STDERR, true, "kontrol-callback-err");
    boolean done;
    try {
      done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      killGroup(p);
      throw e;
    }
    if (!done) {
      killGroup(p);
      p.waitFor(2, TimeUnit.SECONDS);
    }
    // a daemonised grandchild may hold the pipes open: do not wait for it for long
    out.join(done ? 1000 : 200);
    err.join(done ? 1000 : 200);
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    return new CallbackResult(done ? p.exitValue() : -1, !done, out.text(), err.text(), took);
  }

  /** SIGKILL to the callback's process group, then to anything left of its tree. */
  private static void killGroup(Process p) {
    long pid = p.pid();
    if (SETSID != null) {
      try {
        new ProcessBuilder("kill", "-KILL", "--", "-" + pid)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start()
            .waitFor(2, TimeUnit.SECONDS);
      } catch (IOException e) {
        LOG.debug("kill -KILL -{} failed: {}", pid, e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  private static String findSetsid() {
    for (String dir : List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin")) {
      Path s = Path.of(dir, "setsid");
      if (Files.isExecutable(s)) {
        return s.toString();
      }
    }
    LOG.warn("setsid not found: a timed-out callback's children may survive it");
    return null;
  }

  /** Reads a stream to its end on a thread of its own; keeps the first (or last) N bytes. */
  private static final class Drain {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final Thread thread;

    Drain(InputStream in, int max, boolean keepTail, String name) {
      thread =
          new Thread(
              () -> {
                byte[] chunk = new byte[8192];
                try (in) {
                  int n;
                  while ((n = in.read(chunk)) > 0) {
                    synchronized (buf) {
                      if (buf.size() + n <= max) {
                        buf.write(chunk, 0, n);
                      } else if (keepTail) {
                        byte[] all = buf.toByteArray();
                        buf.reset();
                        int keep = Math.max(0, max - n);
                        buf.write(all, Math.max(0, all.length - keep), Math.min(all.length, keep));
                        buf.write(chunk, Math.max(0, n - max), Math.min(n, max));
                      }
                    }
                  }
                } catch (IOException ignored) {
                  // the process is gone
                }
              },
              name);
      thread.setDaemon(true);
      thread.start();
    }

    void join(long millis) throws InterruptedException {
      thread.join(millis);
    }

    String text() {
      synchronized (buf) {
        return buf.toString(StandardCharsets.UTF_8);
      }
    }
  }
}
