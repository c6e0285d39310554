package io.kontrol.agent.cli;

import io.kontrol.agent.callback.Callback;
import io.kontrol.agent.callback.CallbackResult;
import io.kontrol.agent.callback.CallbackRunner;
import io.kontrol.automaton.process.Capture;
import java.io.Closeable;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * One of kontrol's own commands run inside the agent's JVM instead of as a new process: starting a
 * JVM costs about 2.5 s on a loaded 2-core node, which neither the HAProxy pod's path from a
 * registration to a served request nor the NATS pod's from a configuration change to every broker
 * running it (2 s) can afford twice. The command is the same picocli command a shell would
 * run ({@link KontrolCommand#commandLine}), given the same environment and arguments; its stdout
 * and stderr are captured, and its exit code is the one kontrol's mapping ({@link ExitCodes})
 * gives, so the result is what the forked command would have given.
 *
 * <p>Recognised ({@link #parse}): {@code kontrol} (or {@code /usr/bin/kontrol}) followed by one of
 * {@link #IN_AGENT} and plain options, no shell syntax. Anything else is a shell command and runs
 * as one ({@link CallbackRunner}).
 *
 * <p>Runs happen one at a time, in order, on this command's own thread ({@code kontrol-<name>},
 * e.g. {@code kontrol-callback-haproxy}), never on the caller's. A run is bounded by its timeout:
 * at the timeout the caller gets a timed-out result at once and the run is interrupted; its output
 * is then dropped. Unlike a process, a run cannot be killed: one that ignores the interrupt keeps
 * the thread until it ends by itself (the commands here bound their own waits), and the next run
 * waits for it.
 */
public final class BuiltinCommand implements Closeable {

  private static final Logger LOG = LoggerFactory.getLogger(BuiltinCommand.class);

  /**
   * The commands the agent runs itself. {@code kontrol callback kafka} still runs as a process: it
   * needs Kafka's client library, which only its image puts on the class path of a command.
   */
  static final List<List<String>> IN_AGENT =
      List.of(
          List.of("callback", "haproxy"),
          List.of("haproxy", "configure"),
          List.of("callback", "nats"),
          List.of("nats", "configure"));

  private static final Pattern PROGRAM = Pattern.compile("(/usr/bin/|/usr/local/bin/)?kontrol");
  /** Shell syntax: quoting, expansion, redirection, sequencing, globbing, comments. */
  private static final Pattern SHELL = Pattern.compile("[\"'`$\\\\;&|<>(){}*?\\[\\]~#!\\n\\r]");

  /** What one run gave, as a process would: exit code ({@code -1} when timed out), output, time. */
  public record Result(int exitCode, boolean timedOut, String stdout, boolean stdoutCut, String stderr, Duration took) {}

  /** The command itself, given the environment and the two output streams. */
  @FunctionalInterface
  public interface Body {
    /** @return the exit code */
    int run(Map<String, String> env, PrintWriter out, PrintWriter err) throws Exception;
  }

  private final String name;
  private final Body body;
  private final ExecutorService exec;

  /**
   * @param name what the command is called in logs and in its thread's name ({@code
   *     kontrol-<name>})
   */
  public BuiltinCommand(String name, Body body) {
    this.name = Objects.requireNonNull(name, "name");
    this.body = Objects.requireNonNull(body, "body");
    String thread = "kontrol-" + name.replace(' ', '-');
    this.exec =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, thread);
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * The arguments after {@code kontrol} when {@code commandLine} is one of the commands the agent
   * runs itself; empty when it is anything else (a shell command).
   */
  public static Optional<List<String>> parse(String commandLine) {
    if (commandLine == null || SHELL.matcher(commandLine).find()) {
      return Optional.empty();
    }
    List<String> words = Arrays.stream(commandLine.strip().split("[ \\t]+")).filter(w -> !w.isEmpty()).toList();
    if (words.size() < 3 || !PROGRAM.matcher(words.get(0)).matches()) {
      return Optional.empty();
    }
    List<String> args = words.subList(1, words.size());
    for (int i = 2; i < args.size(); i++) {
      if (!args.get(i).startsWith("-") && !args.get(i - 1).startsWith("-")) {
        return Optional.empty(); // a further subcommand or a stray word: not one of ours
      }
    }
    return IN_AGENT.contains(args.subList(0, 2)) ? Optional.of(List.copyOf(args)) : Optional.empty();
  }

  /**
   * {@code commandLine} as a command the agent runs itself, when it is one ({@link #parse}): the
   * kontrol command line with {@code args}, a new one for every run.
   */
  public static Optional<BuiltinCommand> of(String commandLine) {
    return parse(commandLine)
        .map(
            args ->
                new BuiltinCommand(
                    String.join(" ", args.subList(0, 2)),
                    (env, out, err) -> {
                      CommandLine cl = KontrolCommand.commandLine(new KontrolCommand(env));
                      cl.setOut(out);
                      cl.setErr(err);
                      return cl.execute(args.toArray(String[]::new));
                    }));
  }

  /**
   * The leader's callback for {@code command}: in the agent when it is one of kontrol's own
   * ({@link #of}), else a {@link CallbackRunner} forking it. Either is bounded by {@code timeout}
   * and gives the same {@link CallbackResult}.
   */
  public static Callback callback(String command, Duration timeout) {
    Optional<BuiltinCommand> builtin = of(command);
    if (builtin.isEmpty()) {
      return new CallbackRunner(command, timeout);
    }
    LOG.info("callback '{}' runs inside the agent (one of kontrol's own commands)", command);
    return builtin.get().asCallback(timeout);
  }

  /**
   * This command as a leader callback: {@code $PODS}, {@code $STATE}... in its environment, its
   * stdout the new state, as {@link CallbackRunner} gives a process.
   */
  public Callback asCallback(Duration timeout) {
    return new InAgentCallback(this, timeout);
  }

  /** A callback run by a {@link BuiltinCommand}; closing it stops the command's thread. */
  private record InAgentCallback(BuiltinCommand command, Duration timeout) implements Callback, Closeable {
    @Override
    public CallbackResult run(Map<String, String> env) throws InterruptedException {
      Result r = command.run(env, timeout, CallbackRunner.MAX_STDOUT, CallbackRunner.MAX_STDERR);
      return new CallbackResult(r.exitCode(), r.timedOut(), r.stdout(), r.stderr(), r.took(), r.stdoutCut());
    }

    @Override
    public void close() {
      command.close();
    }
  }

  /** A run under way: its result (completed at its end or at the timeout) and its task. */
  private record Pending(CompletableFuture<Result> result, Future<?> task) {}

  /**
   * Starts a run; the result completes when it ends, or with a timed-out result at {@code
   * timeout} (the run is interrupted then). Never blocks.
   */
  public CompletableFuture<Result> submit(Map<String, String> env, Duration timeout, int maxStdout, int maxStderr) {
    return start(env, timeout, maxStdout, maxStderr).result();
  }

  /**
   * Runs once and waits for the result, at most the timeout.
   *
   * @throws InterruptedException when the caller is interrupted (the run is interrupted too)
   */
  public Result run(Map<String, String> env, Duration timeout, int maxStdout, int maxStderr) throws InterruptedException {
    Pending p = start(env, timeout, maxStdout, maxStderr);
    try {
      return p.result().get();
    } catch (InterruptedException e) {
      p.task().cancel(true);
      throw e;
    } catch (ExecutionException | CancellationException e) {
      throw new IllegalStateException("a run's result never fails", e);
    }
  }

  private Pending start(Map<String, String> env, Duration timeout, int maxStdout, int maxStderr) {
    Map<String, String> environment = Map.copyOf(env);
    Capture out = Capture.head(maxStdout);
    Capture err = Capture.tail(maxStderr);
    long t0 = System.nanoTime();
    CompletableFuture<Result> result = new CompletableFuture<>();
    Future<?> task;
    try {
      task =
          exec.submit(
              () -> {
                int code;
                PrintWriter o = new PrintWriter(new OutputStreamWriter(out.stream(), StandardCharsets.UTF_8), true);
                PrintWriter e = new PrintWriter(new OutputStreamWriter(err.stream(), StandardCharsets.UTF_8), true);
                try {
                  code = body.run(environment, o, e);
                } catch (InterruptedException ie) {
                  e.println("kontrol " + name + ": interrupted");
                  code = 1;
                } catch (Exception | LinkageError | StackOverflowError x) {
                  // a bug in the command: what a forked JVM would print, without the trace
                  e.println("kontrol " + name + ": " + x);
                  code = 1;
                }
                o.flush();
                e.flush();
                result.complete(new Result(code, false, out.text(), out.truncated(), err.text(), since(t0)));
              });
    } catch (RejectedExecutionException closed) {
      result.complete(new Result(127, false, "", false, "kontrol " + name + ": the agent is stopping", Duration.ZERO));
      return new Pending(result, CompletableFuture.completedFuture(null));
    }
    CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS)
        .execute(
            () -> {
              if (result.complete(new Result(-1, true, out.text(), out.truncated(), err.text(), since(t0)))) {
                task.cancel(true);
                LOG.warn("'kontrol {}' timed out after {} ms in the agent: interrupted", name, timeout.toMillis());
              }
            });
    return new Pending(result, task);
  }

  private static Duration since(long t0) {
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  /** Stops the thread: a run under way is interrupted; bounded (5 s). */
  @Override
  public void close() {
    exec.shutdownNow();
    try {
      if (!exec.awaitTermination(5, TimeUnit.SECONDS)) {
        LOG.warn("'kontrol {}' still running 5 s after the agent stopped it", name);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "kontrol " + name + " (in the agent)";
  }
}
