package io.kontrol.agent.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ScheduledExecutorService} in virtual time, with the clock that goes with it
 * ({@link #nanoTime()}), for testing timing logic without real time: nothing runs until the test
 * calls {@link #advance(Duration)} or {@link #runDue()}, and then the due tasks run on the test's
 * own thread, in order of their due time (then of submission), each with the clock set to its due
 * time. A task that schedules another one within the advanced span sees it run in the same call.
 *
 * <p>Like a single-thread scheduler, it runs one task at a time. Tasks may be submitted from any
 * thread; they run only inside {@code advance}/{@code runDue}. Blocking on a task's future from
 * inside a task never returns (there is no other thread), and {@link #awaitTermination} does not
 * wait: it says whether the queue is empty after a shutdown.
 */
public final class VirtualScheduler extends AbstractExecutorService implements ScheduledExecutorService {
  /** Where the clock starts: not 0, so code that treats 0 as "never" shows itself. */
  private static final long ORIGIN = TimeUnit.HOURS.toNanos(1000);

  private final PriorityQueue<Task<?>> queue = new PriorityQueue<>();
  private long now = ORIGIN;
  private long seq;
  private boolean shutdown;

  /** The virtual clock in nanoseconds (pass {@code scheduler::nanoTime} as a nano clock). */
  public synchronized long nanoTime() {
    return now;
  }

  /** Virtual time since this scheduler was made. */
  public synchronized Duration elapsed() {
    return Duration.ofNanos(now - ORIGIN);
  }

  /** Runs every task due now, including those that the tasks submit for now. */
  public void runDue() {
    advance(Duration.ZERO);
  }

  /**
   * Moves the clock forward by {@code d}, running each task that falls due on the way at its due
   * time; the clock then reads the start time plus {@code d}.
   */
  public void advance(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("time runs forward only: " + d);
    }
    long target;
    synchronized (this) {
      target = now + d.toNanos();
    }
    for (Task<?> t; (t = nextDue(target)) != null; ) {
      t.run();
    }
    synchronized (this) {
      now = target;
    }
  }

  private synchronized Task<?> nextDue(long target) {
    while (!queue.isEmpty() && queue.peek().isCancelled()) {
      queue.poll();
    }
    Task<?> t = queue.peek();
    if (t == null || t.time - target > 0) {
      return null;
    }
    queue.poll();
    now = Math.max(now, t.time);
    return t;
  }

  /** Tasks waiting (not cancelled). */
  public synchronized int pending() {
    return (int) queue.stream().filter(t -> !t.isCancelled()).count();
  }

  /** How long until the next task is due, empty when none waits. */
  public synchronized Optional<Duration> nextDelay() {
    return queue.stream()
        .filter(t -> !t.isCancelled())
        .mapToLong(t -> t.time - now)
        .min()
        .stream()
        .mapToObj(n -> Duration.ofNanos(Math.max(0, n)))
        .findFirst();
  }

  private synchronized <V> Task<V> enqueue(Task<V> t) {
    if (shutdown) {
      throw new RejectedExecutionException("shut down");
    }
    queue.add(t);
    return t;
  }

  private synchronized long stamp() {
    return seq++;
  }

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    return enqueue(new Task<>(Executors.callable(command, null), at(delay, unit), 0));
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    return enqueue(new Task<>(callable, at(delay, unit), 0));
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
    if (period <= 0) {
      throw new IllegalArgumentException("period " + period);
    }
    return enqueue(new Task<>(Executors.callable(command, null), at(initialDelay, unit), unit.toNanos(period)));
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
    if (delay <= 0) {
      throw new IllegalArgumentException("delay " + delay);
    }
    return enqueue(new Task<>(Executors.callable(command, null), at(initialDelay, unit), -unit.toNanos(delay)));
  }

  @Override
  public void execute(Runnable command) {
    schedule(command, 0, TimeUnit.NANOSECONDS);
  }

  private synchronized long at(long delay, TimeUnit unit) {
    return now + Math.max(0, unit.toNanos(delay));
  }

  @Override
  public synchronized void shutdown() {
    shutdown = true;
    queue.removeIf(t -> t.period != 0); // as ScheduledThreadPoolExecutor: periodic tasks stop
  }

  @Override
  public synchronized List<Runnable> shutdownNow() {
    shutdown = true;
    List<Runnable> left = new ArrayList<>(queue);
    queue.clear();
    return left;
  }

  @Override
  public synchronized boolean isShutdown() {
    return shutdown;
  }

  @Override
  public synchronized boolean isTerminated() {
    return shutdown && queue.stream().allMatch(Task::isCancelled);
  }

  /** Does not wait (time is the test's): true when shut down and nothing is left to run. */
  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return isTerminated();
  }

  private final class Task<V> extends FutureTask<V> implements ScheduledFuture<V> {
    private long time;
    private final long order = stamp();
    /** 0 one-shot; > 0 fixed rate; < 0 fixed delay (negated). */
    private final long period;

    Task(Callable<V> c, long time, long period) {
      super(c);
      this.time = time;
      this.period = period;
    }

    @Override
    public void run() {
      if (period == 0) {
        super.run();
      } else if (runAndReset()) {
        synchronized (VirtualScheduler.this) {
          time = period > 0 ? time + period : now - period;
          if (!shutdown) {
            queue.add(this);
          }
        }
      }
    }

    @Override
    public long getDelay(TimeUnit unit) {
      synchronized (VirtualScheduler.this) {
        return unit.convert(time - now, TimeUnit.NANOSECONDS);
      }
    }

    @Override
    public int compareTo(Delayed o) {
      if (o instanceof VirtualScheduler.Task<?> t) {
        int c = Long.compare(time, t.time);
        return c != 0 ? c : Long.compare(order, t.order);
      }
      return Long.compare(getDelay(TimeUnit.NANOSECONDS), o.getDelay(TimeUnit.NANOSECONDS));
    }
  }
}
