package io.kontrol.agent.lease;

import io.etcd.jetcd.Client;
import io.grpc.ManagedChannel;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.time.Duration;
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
 * <p>jetcd does not let its channel be configured or reached, so the channel is taken from the
 * client by reflection, once; if a jetcd release changes that, one warning says so and the
 * channel keeps its own backoff.
 */
public final class ConnectBackoff {
  private static final Logger LOG = LoggerFactory.getLogger(ConnectBackoff.class);

  private final ManagedChannel channel; // null: not found, nothing to reset
  private final long minIntervalNanos;
  private final LongSupplier nanoClock;
  private final AtomicLong lastReset;

  private ConnectBackoff(ManagedChannel channel, Duration minInterval, LongSupplier nanoClock) {
    this.channel = channel;
    this.minIntervalNanos = minInterval.toNanos();
    this.nanoClock = nanoClock;
    this.lastReset = new AtomicLong(nanoClock.getAsLong() - minIntervalNanos);
  }

  /** For {@code client}'s channel, resetting it at most once per {@code minInterval}. */
  public static ConnectBackoff of(Client client, Duration minInterval) {
    return new ConnectBackoff(channelOf(client), minInterval, System::nanoTime);
  }

  /** False when the client's channel could not be reached (see the class comment). */
  public boolean bounded() {
    return channel != null;
  }

  /**
   * etcd did not answer: if the channel is waiting out a reconnect backoff, it connects now. A
   * channel that is connected or connecting is left alone. Any thread; never blocks.
   */
  public void reset() {
    if (channel == null) {
      return;
    }
    long now = nanoClock.getAsLong();
    long last = lastReset.get();
    if (now - last >= minIntervalNanos && lastReset.compareAndSet(last, now)) {
      channel.resetConnectBackoff();
    }
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
