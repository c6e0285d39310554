package io.kontrol.automaton.machine;

import io.kontrol.automaton.logging.LogFormat;
import io.kontrol.automaton.manifest.Manifest;
import io.kontrol.automaton.manifest.StateSpec;
import io.kontrol.automaton.process.OutputPump;
import io.kontrol.automaton.process.ProcessGroups;
import io.kontrol.automaton.process.ShellCommand;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state machine: FIFO transitions between the states of a {@link Manifest}, each entry running
 * the state's script.
 *
 * <p>All state is owned by ONE thread (the "automaton-machine" loop); public methods only post
 * events to it and return futures. Nothing polls: a queued transition, a script's exit and the
 * timers (settling delay, kill grace, terminal timeout) are each an event. Script output is drained
 * by separate threads so a chatty script never blocks the machine.
 *
 * <p>Rules (those of the original automaton):
 *
 * <ul>
 *   <li>a transition is checked when it is queued, against the state the machine will be in once
 *       everything already queued has run: allowed if the target matches a {@code next} pattern of
 *       that state, or is the terminal state (unless that state is the terminal one);
 *   <li>a newer transition preempts a running script: after {@code settle}, SIGTERM to the
 *       script's process group, SIGKILL after {@code killGrace}; not if the state says {@code
 *       force: true} (the transition then waits for the script);
 *   <li>{@link #shutdown} (DIE, SIGTERM, SIGINT) drops pending transitions, goes to the terminal
 *       state, runs its script bounded by {@code terminalTimeout}, then completes {@link
 *       #terminated()}.
 * </ul>
 */
public final class Machine implements Closeable {

  /** Lifecycle of the machine object itself (not of the FSM it runs). */
  public enum Lifecycle {
    LATENT,
    STARTED,
    CLOSED
  }

  /** How a transition request is answered. */
  public enum Mode {
    /** as soon as the transition is accepted into the queue */
    GOTO,
    /** when the target state's script has finished */
    WAIT
  }

  private static final Logger log = LoggerFactory.getLogger("automaton");
  private static final Logger output = LoggerFactory.getLogger("automaton.script");
  /** How long a script's exit waits for its output to be logged. */
  private static final long DRAIN_WAIT_MS = 200;

  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  private final Manifest manifest;
  private final MachineSettings settings;
  private final String socket;
  private final AtomicReference<Lifecycle> lifecycle = new AtomicReference<>(Lifecycle.LATENT);
  private final ScheduledThreadPoolExecutor loop;
  private final ExecutorService pumps;
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();

  /** The tag of the current state, published for {@link #state()} (written by the loop only). */
  private volatile String current;

  // ---- owned by the loop thread ----
  private final ArrayDeque<Transition> queue = new ArrayDeque<>();
  private final Map<String, String> vars = new LinkedHashMap<>();
  private Run run;
  /** Process groups sent SIGTERM whose SIGKILL is still to come (their leader may be gone). */
  private final java.util.Set<Long> pendingKills = new java.util.HashSet<>();
  private boolean stopping;
  private long stopDeadline;

  /**
   * @param socket the absolute socket path, given to scripts as {@code $SOCKET}
   */
  public Machine(Manifest manifest, MachineSettings settings, Path socket) {
    this.manifest = Objects.requireNonNull(manifest, "manifest");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.socket = socket.toAbsolutePath().toString();
    this.loop = new ScheduledThreadPoolExecutor(1, named("automaton-machine", false));
    this.loop.setRemoveOnCancelPolicy(true);
    this.pumps = Executors.newCachedThreadPool(named("automaton-output", true));
  }

  /**
   * Enters the initial state and returns once its script is started (so a listening socket
   * already queued the script's own requests behind it). Fails when called twice.
   */
  public void start() {
    if (!lifecycle.compareAndSet(Lifecycle.LATENT, Lifecycle.STARTED)) {
      throw new IllegalStateException("machine already " + lifecycle.get());
    }
    if (!ProcessGroups.available()) {
      log.warn("setsid(1) not found: scripts share automaton's process group and their children may survive a preemption");
    }
    CompletableFuture<Void> entered = new CompletableFuture<>();
    post(() -> {
      Transition initial = new Transition(manifest.initial(), "", Mode.GOTO, System.nanoTime(), true);
      queue.add(initial);
      advance();
      entered.complete(null);
    });
    try {
      entered.get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while entering the initial state", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("could not enter the initial state", e);
    }
  }

  /** The current state's tag (null before {@link #start()}); safe from any thread, never blocks. */
  public String state() {
    return current;
  }

  public Manifest manifest() {
    return manifest;
  }

  public Lifecycle lifecycle() {
    return lifecycle.get();
  }

  /**
   * Queues a transition to {@code target} with {@code input} as {@code $INPUT}.
   *
   * @return completes with true when accepted ({@link Mode#GOTO}) or when the target's script has
   *     run to its end ({@link Mode#WAIT}); with false when refused (unknown or disallowed state,
   *     shutting down, queue full) or, for WAIT, when the script was killed or dropped before it
   *     ended
   */
  public CompletableFuture<Boolean> transition(String target, String input, Mode mode) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(mode, "mode");
    Transition t = new Transition(target, input == null ? "" : input, mode, System.nanoTime(), false);
    if (t.input.indexOf('\0') >= 0 || lifecycle.get() != Lifecycle.STARTED || !post(() -> queue(t))) {
      t.done.complete(false);
    }
    return t.done;
  }

  /**
   * Sets {@code key=value} in the environment of every later script. Completes with false when
   * {@code key} is not a valid variable name or is one the machine sets itself (SOCKET, INPUT).
   */
  public CompletableFuture<Boolean> set(String key, String value) {
    CompletableFuture<Boolean> done = new CompletableFuture<>();
    if (key == null || !ENV_NAME.matcher(key).matches() || key.equals("SOCKET") || key.equals("INPUT")
        || value == null || value.indexOf('\0') >= 0) {
      done.complete(false);
      return done;
    }
    if (!post(() -> {
      vars.put(key, value);
      log.debug("SET {}", key);
      done.complete(true);
    })) {
      done.complete(false);
    }
    return done;
  }

  /**
   * Goes to the terminal state, runs its script (bounded), then completes {@link #terminated()}.
   * Pending transitions are dropped (their WAIT callers get false). Idempotent.
   */
  public CompletableFuture<Void> shutdown(String reason) {
    return shutdown(reason, false);
  }

  /**
   * As {@link #shutdown(String)}; when {@code urgent} (SIGTERM, SIGINT) a running script is sent
   * SIGTERM at once instead of after the settling delay (a {@code force} script is still waited
   * for, within the terminal timeout).
   */
  public CompletableFuture<Void> shutdown(String reason, boolean urgent) {
    if (!post(() -> stop(reason, urgent))) {
      terminated.complete(null);
    }
    return terminated;
  }

  /** Completes when the machine has finished its terminal state after {@link #shutdown}. */
  public CompletableFuture<Void> terminated() {
    return terminated;
  }

  /**
   * Stops at once: kills a running script's process group, refuses whatever is pending, and stops
   * the loop. Bounded; for an orderly end use {@link #shutdown} first.
   */
  @Override
  public void close() {
    if (lifecycle.getAndSet(Lifecycle.CLOSED) == Lifecycle.CLOSED) {
      return;
    }
    try {
      CompletableFuture<Void> drained = new CompletableFuture<>();
      try {
        loop.execute(() -> {
          try {
            if (run != null && run.process.isAlive()) {
              log.info("[{}] killing process group {} (automaton closing)", run.spec.tag(), run.pid);
              pendingKills.add(run.pid);
              run.process.destroyForcibly();
            }
            // nothing a script started may outlive automaton, not even a preempted script's children
            for (long pgid : pendingKills) {
              if (ProcessGroups.signal(pgid, "KILL")) {
                log.info("sent SIGKILL to process group {} (automaton closing)", pgid);
              }
            }
            pendingKills.clear();
            for (Transition t : queue) {
              t.done.complete(false);
            }
            queue.clear();
            if (run != null) {
              run.transition.done.complete(false);
            }
          } finally {
            drained.complete(null);
          }
        });
        drained.get(5, TimeUnit.SECONDS);
      } catch (RejectedExecutionException | ExecutionException | TimeoutException e) {
        log.debug("machine loop did not drain: {}", e.toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    } finally {
      loop.shutdownNow();
      pumps.shutdownNow();
      terminated.complete(null);
    }
  }

  // ------------------------------------------------------------------ loop thread only

  private void queue(Transition t) {
    if (stopping) {
      log.info("{} {} refused: shutting down", t.mode, t.target);
      t.done.complete(false);
      return;
    }
    String tail = queue.isEmpty() ? current : queue.peekLast().target;
    if (manifest.state(t.target).isEmpty()) {
      log.info("{} {} refused: no such state", t.mode, t.target);
      t.done.complete(false);
      return;
    }
    if (!manifest.allows(tail, t.target)) {
      log.info("{} {} refused: {} -> {} is not allowed", t.mode, t.target, tail, t.target);
      t.done.complete(false);
      return;
    }
    if (queue.size() >= settings.maxQueue()) {
      log.warn("{} {} refused: {} transitions already pending", t.mode, t.target, queue.size());
      t.done.complete(false);
      return;
    }
    queue.add(t);
    log.debug("queued {} {} ({} pending)", t.mode, t.target, queue.size());
    try {
      if (run == null) {
        // nothing runs: enter the state now, BEFORE the GOTO is acknowledged, so that a client
        // reading OK and then asking STATE sees the new state (as with the original automaton)
        advance();
      } else {
        preemptLater();
      }
    } finally {
      // OK never waits for a script: behind a running one the transition is only queued
      if (t.mode == Mode.GOTO) {
        t.done.complete(true);
      }
    }
  }

  /** Enters queued states until one has a running script or the queue is empty. */
  private void advance() {
    while (run == null && !queue.isEmpty()) {
      enter(queue.poll());
    }
    if (run == null && stopping && queue.isEmpty() && manifest.terminal().equals(current)) {
      finish();
    }
  }

  private void enter(Transition t) {
    String from = current;
    current = t.target;
    LogFormat.field("state", t.target);
    StateSpec spec = manifest.state(t.target).orElseThrow();
    if (t.internal && stopping) {
      log.info("{} -> {} (shutdown)", from, t.target);
    } else if (t.input.isEmpty()) {
      log.info("{} -> {}", from == null ? "(start)" : from, t.target);
    } else {
      log.info("{} -> {} (input: {})", from == null ? "(start)" : from, t.target, abbreviate(t.input));
    }
    if (spec.shell().isEmpty()) {
      t.done.complete(true);
      return;
    }
    Process process;
    try {
      Map<String, String> env = new LinkedHashMap<>(vars);
      env.put("SOCKET", socket);
      env.put("INPUT", t.input);
      process = ShellCommand.of(spec.shell().get()).addEnvironment(env).mergeOutput().start();
    } catch (IOException | RuntimeException e) {
      log.error("[{}] cannot start the script: {}", t.target, e.getMessage());
      t.done.complete(false);
      return;
    }
    Run r = new Run(t, spec, process, System.nanoTime());
    run = r;
    log.debug("[{}] started pid {}", spec.tag(), r.pid);
    String tag = spec.tag();
    long pid = r.pid;
    CompletableFuture<Void> drained = new CompletableFuture<>();
    try {
      pumps.execute(() -> {
        try {
          new OutputPump(process.getInputStream(), line -> output.info("[{}] pid {} | {}", tag, pid, line)).run();
        } finally {
          drained.complete(null);
        }
      });
    } catch (RejectedExecutionException e) {
      drained.complete(null); // closing: output is not needed any more
    }
    // The script is over when its shell exits. Its last lines are usually still in the pipe then:
    // give the pump a moment to log them first (children left running may hold the pipe open, so
    // this wait is bounded).
    process.onExit().thenCompose(p -> drained.copy().completeOnTimeout(null, DRAIN_WAIT_MS, TimeUnit.MILLISECONDS))
        .whenComplete((v, e) -> post(() -> exited(r)));
    if (!queue.isEmpty()) {
      preemptLater();
    }
    if (stopping && spec.tag().equals(manifest.terminal())) {
      r.timer = schedule(() -> {
        if (run == r) {
          terminate(r, "terminal script exceeded " + settings.terminalTimeout().toSeconds() + " s");
        }
      }, settings.terminalTimeout().toNanos());
    }
  }

  private void exited(Run r) {
    if (run != r) {
      return;
    }
    run = null;
    if (r.timer != null) {
      r.timer.cancel(false);
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - r.started);
    int code = r.process.exitValue();
    if (r.signalled != null) {
      log.info("[{}] pid {} ended with exit code {} after {} ms ({})", r.spec.tag(), r.pid, code, ms, r.signalled);
    } else {
      log.info("[{}] pid {} ended with exit code {} after {} ms", r.spec.tag(), r.pid, code, ms);
    }
    r.transition.done.complete(r.signalled == null);
    advance();
  }

  /** Arms the preemption of the running script by the oldest pending transition. */
  private void preemptLater() {
    Run r = run;
    if (r == null || r.preemptArmed || queue.isEmpty()) {
      return;
    }
    r.preemptArmed = true;
    if (r.spec.force()) {
      if (stopping) {
        long delay = Math.max(0, stopDeadline - System.nanoTime());
        schedule(() -> {
          if (run == r) {
            terminate(r, "force script still running " + settings.terminalTimeout().toSeconds() + " s after shutdown");
          }
        }, delay);
      } else {
        log.debug("[{}] force: the next transition waits for pid {}", r.spec.tag(), r.pid);
      }
      return;
    }
    long delay = Math.max(0, queue.peek().queued + settings.settle().toNanos() - System.nanoTime());
    schedule(() -> {
      if (run == r && !queue.isEmpty()) {
        terminate(r, "preempted by " + queue.peek().target);
      }
    }, delay);
  }

  /** SIGTERM to the run's process group now, SIGKILL after the grace period. */
  private void terminate(Run r, String why) {
    if (r.signalled != null || !r.process.isAlive()) {
      return; // already done, or the script has ended and only its last output is being logged
    }
    r.signalled = why;
    log.info("[{}] sending SIGTERM to process group {} ({})", r.spec.tag(), r.pid, why);
    pendingKills.add(r.pid);
    offLoop(() -> {
      if (!ProcessGroups.signal(r.pid, "TERM")) {
        r.process.destroy();
      }
    });
    schedule(() -> {
      if (!pendingKills.remove(r.pid)) {
        return; // done by close()
      }
      offLoop(() -> {
        // the group may outlive its leader: children that ignore SIGTERM get SIGKILL too
        boolean leaderAlive = r.process.isAlive();
        if (ProcessGroups.signal(r.pid, "KILL")) {
          log.info("[{}] sent SIGKILL to process group {} after {} ms grace", r.spec.tag(), r.pid, settings.killGrace().toMillis());
        }
        if (leaderAlive) {
          r.process.destroyForcibly();
        }
      });
    }, settings.killGrace().toNanos());
  }

  private void stop(String reason, boolean urgent) {
    if (stopping) {
      log.info("shutdown already in progress ({})", reason);
      return;
    }
    stopping = true;
    stopDeadline = System.nanoTime() + settings.terminalTimeout().toNanos();
    log.info("shutting down ({}): going to terminal state {}", reason, manifest.terminal());
    for (Transition t : queue) {
      t.done.complete(false);
    }
    queue.clear();
    if (manifest.terminal().equals(current)) {
      Run r = run;
      if (r == null) {
        finish();
      } else {
        // already in the terminal state with its script running: bound it
        long delay = Math.max(0, stopDeadline - System.nanoTime());
        r.timer = schedule(() -> {
          if (run == r) {
            terminate(r, "terminal script exceeded " + settings.terminalTimeout().toSeconds() + " s");
          }
        }, delay);
      }
      return;
    }
    long queued = System.nanoTime() - (urgent ? settings.settle().toNanos() : 0);
    queue.add(new Transition(manifest.terminal(), "", Mode.GOTO, queued, true));
    if (run == null) {
      advance();
    } else {
      run.preemptArmed = false; // re-arm against the terminal transition (force scripts get a deadline)
      preemptLater();
    }
  }

  private void finish() {
    log.info("terminal state {} done", current);
    terminated.complete(null);
  }

  // ------------------------------------------------------------------ plumbing

  /** Runs {@code task} on the loop; false when the loop is gone. Never lets an exception kill it. */
  private boolean post(Runnable task) {
    try {
      loop.execute(() -> guarded(task));
      return true;
    } catch (RejectedExecutionException e) {
      return false;
    }
  }

  /** Runs blocking work (spawning kill) away from the loop, or inline once closing. */
  private void offLoop(Runnable task) {
    try {
      pumps.execute(() -> guarded(task));
    } catch (RejectedExecutionException e) {
      guarded(task);
    }
  }

  private ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    try {
      return loop.schedule(() -> guarded(task), delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      return null;
    }
  }

  private static void guarded(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException | Error e) {
      log.error("machine event failed", e);
    }
  }

  static String abbreviate(String s) {
    return s.length() <= 200 ? s : s.substring(0, 200) + "... (" + s.length() + " chars)";
  }

  private static ThreadFactory named(String prefix, boolean numbered) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, numbered ? prefix + "-" + n.incrementAndGet() : prefix);
      t.setDaemon(true);
      return t;
    };
  }

  /** A requested transition. */
  private static final class Transition {
    final String target;
    final String input;
    final Mode mode;
    final long queued;
    /** queued by the machine itself (initial state, shutdown), not by a client */
    final boolean internal;
    final CompletableFuture<Boolean> done = new CompletableFuture<>();

    Transition(String target, String input, Mode mode, long queued, boolean internal) {
      this.target = target;
      this.input = input;
      this.mode = mode;
      this.queued = queued;
      this.internal = internal;
    }
  }

  /** A running script: the leader's pid is also its process group id. */
  private static final class Run {
    final Transition transition;
    final StateSpec spec;
    final Process process;
    final long pid;
    final long started;
    boolean preemptArmed;
    String signalled;
    ScheduledFuture<?> timer;

    Run(Transition transition, StateSpec spec, Process process, long started) {
      this.transition = transition;
      this.spec = spec;
      this.process = process;
      this.pid = process.pid();
      this.started = started;
    }
  }
}
