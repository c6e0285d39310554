package io.kontrol.automaton.process;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * One command run to completion the way kontrol runs commands: {@code /bin/sh -c} as the leader of
 * a process group of its own ({@link ProcessGroups}), no stdin, its output drained on threads of
 * its own (so it never blocks on a full pipe) and kept up to a limit, and at the timeout — or when
 * the caller is interrupted — the whole group killed, children included.
 *
 * <p>Once the shell has exited, whatever is left of its group is killed: nothing a command left
 * running outlives the run. Children still holding the output get a short wait first, so what the
 * shell printed last is read; the wait is not what decides the kill, because the JDK closes its
 * end of the pipes when the shell exits unless a read is blocked on them at that moment, so a child
 * holding the output is not always seen as one.
 *
 * <p>Immutable; {@link #run} may be called any number of times, from any thread.
 */
public final class ShellCommand {

  /** How long the output may stay open once the shell has exited, or has been killed. */
  private static final long DRAIN_MILLIS = 1_000;

  private final String script;
  private final String[] args;
  private final Map<String, String> env;
  private final boolean replaceEnv;
  private final boolean mergeOutput;

  private ShellCommand(String script, String[] args, Map<String, String> env, boolean replaceEnv, boolean merge) {
    this.script = Objects.requireNonNull(script, "script");
    this.args = args;
    this.env = env;
    this.replaceEnv = replaceEnv;
    this.mergeOutput = merge;
  }

  /** {@code script} with the process's environment and stdout and stderr apart. */
  public static ShellCommand of(String script) {
    return new ShellCommand(script, new String[0], Map.of(), false, false);
  }

  /** With {@code $0}, {@code $1}, ... */
  public ShellCommand args(String... positional) {
    return new ShellCommand(script, positional.clone(), env, replaceEnv, mergeOutput);
  }

  /** With exactly {@code environment}, nothing inherited. */
  public ShellCommand environment(Map<String, String> environment) {
    return new ShellCommand(script, args, Map.copyOf(environment), true, mergeOutput);
  }

  /** With the process's environment plus {@code extra}. */
  public ShellCommand addEnvironment(Map<String, String> extra) {
    return new ShellCommand(script, args, Map.copyOf(extra), false, mergeOutput);
  }

  /** With stderr merged into stdout (the result's stderr is then empty). */
  public ShellCommand mergeOutput() {
    return new ShellCommand(script, args, env, replaceEnv, true);
  }

  public String script() {
    return script;
  }

  /**
   * Starts the command and leaves it to the caller, who must drain its output and may signal its
   * group ({@link ProcessGroups#signal}, whose id is the process's pid).
   */
  public Process start() throws IOException {
    ProcessBuilder pb = new ProcessBuilder(ProcessGroups.command(script, args))
        .redirectErrorStream(mergeOutput)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    if (replaceEnv) {
      pb.environment().clear();
    }
    pb.environment().putAll(env);
    return pb.start();
  }

  /**
   * Runs the command and waits for it, at most {@code timeout}.
   *
   * @param stdout what to keep of stdout (of the merged output with {@link #mergeOutput})
   * @param stderr what to keep of stderr
   * @throws IOException when {@code /bin/sh} cannot be started
   * @throws InterruptedException after killing the process group, when interrupted
   */
  public Result run(Duration timeout, Capture stdout, Capture stderr) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    Process p = start();
    Drain out = new Drain(p.getInputStream(), stdout, "shell-out-" + p.pid());
    Drain err = new Drain(p.getErrorStream(), stderr, "shell-err-" + p.pid());
    boolean done;
    try {
      done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (!done) {
        ProcessGroups.kill(p);
        p.waitFor(DRAIN_MILLIS, TimeUnit.MILLISECONDS);
      }
      boolean ended = out.join(DRAIN_MILLIS) && err.join(DRAIN_MILLIS);
      // what the command left running, holding the output or not
      ProcessGroups.kill(p);
      if (!ended) {
        out.join(DRAIN_MILLIS);
        err.join(DRAIN_MILLIS);
      }
    } catch (InterruptedException e) {
      ProcessGroups.kill(p);
      throw e;
    }
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    return new Result(done ? p.exitValue() : -1, !done, stdout, stderr, took);
  }

  /**
   * How a run ended.
   *
   * @param exitCode the shell's exit code, -1 when it was killed on timeout
   * @param timedOut the command ran out of time and its process group was killed
   * @param stdout what was kept of stdout (or of the merged output)
   * @param stderr what was kept of stderr
   */
  public record Result(int exitCode, boolean timedOut, Capture stdout, Capture stderr, Duration took) {}

  /** Reads one stream to its end on a thread of its own. */
  private static final class Drain {
    private final Thread thread;

    Drain(InputStream in, Capture into, String name) {
      thread = new Thread(() -> {
        byte[] chunk = new byte[8192];
        try (in) {
          int n;
          while ((n = in.read(chunk)) > 0) {
            into.add(chunk, n);
          }
        } catch (IOException ignored) {
          // closed under us: the process is gone
        }
      }, name);
      thread.setDaemon(true);
      thread.start();
    }

    /** @return true when the stream has ended */
    boolean join(long millis) throws InterruptedException {
      thread.join(millis);
      return !thread.isAlive();
    }
  }
}
