package io.kontrol.agent.callback;

import io.kontrol.agent.watch.Snapshot;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's loop for one group: changes mark the group dirty; the {@link Damper} decides when
 * the callback is due; then ONE run at a time reads the group (the leader's {@code GroupView}: its
 * records in memory, its state read now), and runs the callback if the
 * digest or the group configuration's revision differs from the last one that succeeded (the
 * first run of a term always runs). A change of the configuration ({@link #configChanged()}) is an
 * operator's deliberate act, not membership churn: after the term's first run it skips the damper. A
 * successful run's state is written through the fenced {@link StateWriter}; a failed one keeps the
 * old state and is retried after a {@link Backoff}, until it succeeds or the group changes.
 *
 * <p>Everything runs on one single-thread scheduler, {@link #loop(String)} ({@code
 * kontrol-callback-<app>}) in the agent; {@link #changed()} only enqueues a mark, so a change that
 * arrives during a run is handled right after it. The scheduler and the clock are given, so tests
 * drive the timing in virtual time.
 */
public final class CallbackScheduler implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(CallbackScheduler.class);
  /** Linux's limit on one environment string (MAX_ARG_STRLEN), with room for "PODS=". */
  private static final int MAX_ENV_VALUE = 128 * 1024 - 16;

  /** The group as it is now. */
  @FunctionalInterface
  public interface SnapshotSource {
    Snapshot read() throws Exception;
  }

  /**
   * Writes a new state, and the ids of the pods the run was given, only while this agent leads
   * (fenced); false when it no longer does.
   */
  @FunctionalInterface
  public interface StateWriter {
    boolean write(String state, java.util.List<String> members) throws Exception;
  }

  /** What one pass ended with, for status and tests. */
  public record Outcome(Snapshot snapshot, Optional<CallbackResult> result, boolean stateWritten) {}

  private final String group;
  private final String pod;
  private final Damper damper;
  private final Backoff backoff;
  private final LongSupplier nanoClock;
  private final SnapshotSource source;
  private final Optional<Callback> runner;
  private final Map<String, String> env;
  private final StateWriter writer;
  private final Consumer<Outcome> observer;
  private final ScheduledExecutorService exec;
  private final Settle settle;

  // owned by exec
  private boolean dirty;
  private long firstChange;
  private long lastChange;
  private int failures;
  private String lastDone;
  private boolean ranOnce;
  private ScheduledFuture<?> pending;
  private volatile boolean closed;

  /**
   * @param exec a single-thread scheduler, owned from now on: {@link #close()} shuts it down
   * @param nanoClock the clock the damper's times are read from, in nanoseconds
   * @param settle when a run may act after an etcd outage or a new term ({@link Settle#none()}: at once)
   */
  public CallbackScheduler(
      String group,
      String pod,
      Damper damper,
      Backoff backoff,
      ScheduledExecutorService exec,
      LongSupplier nanoClock,
      SnapshotSource source,
      Optional<? extends Callback> runner,
      Map<String, String> env,
      StateWriter writer,
      Consumer<Outcome> observer,
      Settle settle) {
    this.settle = settle;
    this.group = group;
    this.pod = pod;
    this.damper = damper;
    this.backoff = backoff;
    this.nanoClock = nanoClock;
    this.source = source;
    this.runner = runner.map(Callback.class::cast);
    this.env = Map.copyOf(env);
    this.writer = writer;
    this.observer = observer;
    this.exec = exec;
  }

  /** The agent's scheduler for one group's callbacks: one daemon thread, kontrol-callback-<app>. */
  public static ScheduledExecutorService loop(String group) {
    String app = group.substring(group.indexOf('/') + 1);
    return Executors.newSingleThreadScheduledExecutor(
        r -> {
          Thread t = new Thread(() -> {
            org.slf4j.MDC.put("group", group); // a field of every JSON log line
            r.run();
          }, "kontrol-callback-" + app);
          t.setDaemon(true);
          return t;
        });
  }

  /** The scheduler's own thread, for the watch's re-watch timers. */
  public ScheduledExecutorService executor() {
    return exec;
  }

  /** Marks the group dirty. Any thread; never blocks. */
  public void changed() {
    try {
      exec.execute(this::onChange);
    } catch (RejectedExecutionException closedAlready) {
      // deposed or shutting down
    }
  }

  /**
   * The group's configuration changed: runs at once (no damper) once the term's first run has
   * happened. Any thread; never blocks.
   */
  public void configChanged() {
    try {
      exec.execute(this::onConfigChange);
    } catch (RejectedExecutionException closedAlready) {
      // deposed or shutting down
    }
  }

  private void onConfigChange() {
    if (!ranOnce) {
      onChange(); // the term's first run waits for the group to settle, as always
      return;
    }
    dirty = true;
    failures = 0;
    reschedule(Duration.ZERO);
  }

  /** What a successful run is remembered by: the digest and the configuration's revision. */
  private static String done(Snapshot s) {
    return s.md5() + " config@" + s.configRevision();
  }

  private void onChange() {
    long now = nanoClock.getAsLong();
    if (!dirty) {
      dirty = true;
      firstChange = now;
    }
    lastChange = now;
    failures = 0; // a new change: a pending retry is superseded by the damper
    reschedule(damper.remaining(firstChange, lastChange, now).orElse(Duration.ZERO));
  }

  private void reschedule(Duration delay) {
    if (pending != null) {
      pending.cancel(false);
    }
    if (!closed) {
      pending = exec.schedule(this::fire, delay.toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  private void fire() {
    pending = null;
    dirty = false;
    ranOnce = true;
    Snapshot s;
    try {
      s = source.read();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) {
      failures++;
      Duration d = backoff.delay(failures);
      LOG.warn("group read failed group={} pod={} error={}; again in {} ms", group, pod, brief(e), d.toMillis());
      reschedule(d);
      return;
    }
    if (done(s).equals(lastDone)) {
      LOG.debug("group unchanged group={} pod={} digest={}", group, pod, s.md5());
      return;
    }
    Optional<Duration> own = settle.awaitingSelf(s, nanoClock.getAsLong());
    if (own.isPresent()) {
      // the record's arrival in the group is a change, and makes the next pass
      LOG.info("group read before the leader's own record group={} pod={} pods={}: acting once it is in, in at most {} ms",
          group, pod, s.pods().size(), own.get().toMillis());
      reschedule(own.get());
      return;
    }
    Optional<Duration> settling = settle.remaining(s, nanoClock.getAsLong());
    if (settling.isPresent()) {
      // a change (a member registering again) makes another pass sooner
      LOG.info("group settling group={} pod={} pods={} missing={}: etcd answers again, acting in at most {} ms",
          group, pod, s.pods().size(), Settle.missing(s), settling.get().toMillis());
      reschedule(settling.get());
      return;
    }
    if (runner.isEmpty()) {
      LOG.info("group changed group={} pod={} digest={} pods={} (no callback set)", group, pod, s.md5(), s.pods().size());
      lastDone = done(s);
      observer.accept(new Outcome(s, Optional.empty(), false));
      return;
    }
    LOG.info("callback started group={} pod={} digest={} pods={}", group, pod, s.md5(), s.pods().size());
    Map<String, String> e = new HashMap<>(env);
    Path podsFile = null;
    try {
      // $PODS_FILE too: Linux refuses one variable over 128 KiB, about 800 records
      podsFile = Files.createTempFile("kontrol-pods-", ".json");
      Files.writeString(podsFile, s.podsJson());
      e.put("PODS_FILE", podsFile.toString());
    } catch (IOException io) {
      LOG.warn("cannot write PODS_FILE group={} pod={} error={}", group, pod, io.getMessage());
    }
    if (s.podsJson().getBytes(StandardCharsets.UTF_8).length < MAX_ENV_VALUE) {
      e.put("PODS", s.podsJson());
    } else {
      e.remove("PODS");
      LOG.warn("group too large for $PODS group={} pod={} pods={}: only $PODS_FILE is set", group, pod, s.pods().size());
    }
    e.put("MD5", s.md5());
    e.put("HASH", s.md5());
    e.remove("STATE");
    s.state().ifPresent(st -> e.put("STATE", st));
    e.remove("CONFIG");
    s.config().ifPresent(c -> e.put("CONFIG", c));
    e.put("CONFIG_REVISION", Long.toString(s.configRevision()));
    CallbackResult r;
    try {
      r = runner.get().run(e);
    } catch (InterruptedException ie) {
      LOG.info("callback stopped group={} pod={} digest={} (no longer leading)", group, pod, s.md5());
      Thread.currentThread().interrupt();
      return;
    } finally {
      if (podsFile != null) {
        try {
          Files.deleteIfExists(podsFile);
        } catch (IOException ignored) {
          // a temp file
        }
      }
    }
    Optional<String> state = r.state();
    if (state.isEmpty()) {
      // the failed run may have acted in part: whatever the group looks like next, run again
      lastDone = null;
      failures++;
      Duration d = backoff.delay(failures);
      LOG.warn(
          "callback failed group={} pod={} digest={} reason={} took={}ms stderr={}; retry in {} ms, state kept",
          group,
          pod,
          s.md5(),
          r.failure(),
          r.took().toMillis(),
          oneLine(r.stderr()),
          d.toMillis());
      observer.accept(new Outcome(s, Optional.of(r), false));
      reschedule(d);
      return;
    }
    boolean written;
    try {
      written = writer.write(state.get(), s.ids());
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception ex) {
      failures++;
      Duration d = backoff.delay(failures);
      LOG.warn("state write failed group={} pod={} digest={} error={}; retry in {} ms", group, pod, s.md5(), brief(ex), d.toMillis());
      observer.accept(new Outcome(s, Optional.of(r), false));
      reschedule(d);
      return;
    }
    observer.accept(new Outcome(s, Optional.of(r), written));
    if (written) {
      failures = 0;
      lastDone = done(s);
      LOG.info("callback done group={} pod={} digest={} took={}ms state={}", group, pod, s.md5(), r.took().toMillis(), oneLine(state.get()));
    } else {
      LOG.warn("state not written group={} pod={} digest={} reason=no longer the leader", group, pod, s.md5());
    }
  }

  private static String oneLine(String s) {
    String t = s.strip().replace('\n', ' ').replace('\r', ' ');
    return t.length() > 300 ? t.substring(0, 300) + "..." : t;
  }

  private static String brief(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + oneLine(t.getMessage()));
  }

  /** Stops: a running callback's process group is killed; bounded. */
  @Override
  public void close() {
    closed = true;
    exec.shutdownNow(); // interrupts a running callback, whose runner kills its process group
    try {
      if (!exec.awaitTermination(5, TimeUnit.SECONDS)) {
        LOG.warn("callback thread did not stop within 5 s group={} pod={}", group, pod);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
