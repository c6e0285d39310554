package io.kontrol.agent.lease;

import io.etcd.jetcd.Client;
import io.grpc.ManagedChannel;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds how long an etcd client waits before it tries to connect again. A gRPC channel that
 * lost its server retries after 1 s, then 1.6 s, 2.6 s, 4.1 s, 6.6 s, 10.5 s ... up to 2 minutes;
 * after an outage of a few TTLs, each pod would reach etcd again at its own moment, seconds apart,
 * and the leader would see the group come back piecemeal. Whenever etcd does not answer a lease
 * call, {@link #reset()} makes the channel try again now (at most once per {@code minInterval}):
 * every pod is back within about that interval of etcd answering.
 *
 * <p>The reset runs on this class's own thread ({@code kontrol-etcd-reconnect}), never on the
 * caller's: gRPC runs the channel's pending work on the thread that resets it, and that work may
 * include re-resolving etcd's host names, which blocks for seconds when the pod's network is cut.
 * Called from a lease loop, it kept a leader's election lease from being given up on time.
 *
 * <p>jetcd does not let its channel be configured or reached, so the channel is taken from the
 * client by reflection, once; if a jetcd release changes that, one warning says so and the
 * channel keeps its own backoff.
 */
public final class ConnectBackoff implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ConnectBackoff.class);

  private final ManagedChannel channel; // null: not found, nothing to reset
  private final long minIntervalNanos;
  private final LongSupplier nanoClock;
  private final AtomicLong lastReset;
  /** A reset handed to the thread and not yet done: another one is not queued behind it. */
  private final AtomicBoolean pending = new AtomicBoolean();
  private final ExecutorService thread;

  private ConnectBackoff(ManagedChannel channel, Duration minInterval, LongSupplier nanoClock) {
    this.channel = channel;
    this.minIntervalNanos = minInterval.toNanos();
    this.nanoClock = nanoClock;
    this.lastReset = new AtomicLong(nanoClock.getAsLong() - minIntervalNanos);
    this.thread =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "kontrol-etcd-reconnect");
              t.setDaemon(true);
              return t;
            });
  }

  /** For {@code client}'s channel, resetting it at most once per {@code minInterval}. */
  public static ConnectBackoff of(Client client, Duration minInterval) {
    return new ConnectBackoff(channelOf(client), minInterval, System::nanoTime);
  }

  /** For {@code channel} itself (tests). */
  static ConnectBackoff of(ManagedChannel channel, Duration minInterval, LongSupplier nanoClock) {
    return new ConnectBackoff(channel, minInterval, nanoClock);
  }

  /** False when the client's channel could not be reached (see the class comment). */
  public boolean bounded() {
    return channel != null;
  }

  /**
   * etcd did not answer: if the channel is waiting out a reconnect backoff, it connects now. A
   * channel that is connected or connecting is left alone. Any thread; never blocks: the reset is
   * done on this class's thread.
   */
  public void reset() {
    if (channel == null) {
      return;
    }
    long now = nanoClock.getAsLong();
    long last = lastReset.get();
    if (now - last >= minIntervalNanos && lastReset.compareAndSet(last, now) && pending.compareAndSet(false, true)) {
      try {
        thread.execute(
            () -> {
              try {
                channel.resetConnectBackoff();
              } finally {
                pending.set(false);
              }
            });
      } catch (RejectedExecutionException closed) {
        pending.set(false);
      }
    }
  }

  /** Whether no reset is handed to the thread or in progress (tests). */
  boolean idle() {
    return !pending.get();
  }

  /** Stops the thread; a reset in progress is abandoned (the channel is being closed too). */
  @Override
  public void close() {
    thread.shutdownNow();
  }

  private static ManagedChannel channelOf(Client client) {
    try {
      Field f = client.getClass().getDeclaredField("connectionManager");
      f.setAccessible(true);
      Object connections = f.get(client);
      Method get = connections.getClass().getDeclaredMethod("getChannel");
      get.setAccessible(true);
      return (ManagedChannel) get.invoke(connections);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.warn("etcd reconnect backoff not bounded: the jetcd client's channel was not found ({}); "
          + "after an outage this pod may reach etcd seconds after the others", LeaseKeeper.brief(e));
      return null;
    }
  }
}
