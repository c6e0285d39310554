package io.kontrol.agent.lease;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The reset is done off the caller's thread: gRPC runs a channel's pending work (etcd's host names
 * resolved again) on the thread that resets it, which blocked a leader's election loop for seconds
 * on a cut network. A channel whose reset blocks stands in for that here.
 */
@Timeout(10)
class ConnectBackoffTest {

  /** A channel whose {@code resetConnectBackoff} blocks until released, counting calls and their thread. */
  static final class BlockingChannel extends ManagedChannel {
    final CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch entered = new CountDownLatch(1);
    final AtomicInteger resets = new AtomicInteger();
    final AtomicReference<String> thread = new AtomicReference<>();

    @Override
    public void resetConnectBackoff() {
      resets.incrementAndGet();
      thread.set(Thread.currentThread().getName());
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public ManagedChannel shutdown() {
      return this;
    }

    @Override
    public boolean isShutdown() {
      return false;
    }

    @Override
    public boolean isTerminated() {
      return false;
    }

    @Override
    public ManagedChannel shutdownNow() {
      return this;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
      return true;
    }

    @Override
    public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String authority() {
      return "etcd";
    }
  }

  @Test
  void aBlockingResetNeverHoldsTheCallerAndResetsDoNotPileUp() throws Exception {
    BlockingChannel channel = new BlockingChannel();
    AtomicLong now = new AtomicLong();
    try (ConnectBackoff b = ConnectBackoff.of(channel, Duration.ofMillis(100), now::get)) {
      long t0 = System.nanoTime();
      b.reset();
      assertThat(channel.entered.await(5, TimeUnit.SECONDS)).as("the reset ran").isTrue();
      // the caller is back at once, though the reset is still blocked
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(1));
      assertThat(channel.thread.get()).isEqualTo("kontrol-etcd-reconnect");
      // while it is blocked, later resets (past the interval) are dropped, not queued
      for (int i = 1; i <= 5; i++) {
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(200));
        b.reset();
      }
      channel.release.countDown();
      awaitIdle(b);
      // the five were dropped, not queued behind it
      assertThat(channel.resets.get()).isEqualTo(1);
      // once it is done, the next reset runs again, once
      now.addAndGet(TimeUnit.MILLISECONDS.toNanos(200));
      b.reset();
      awaitIdle(b);
      assertThat(channel.resets.get()).isEqualTo(2);
    }
  }

  /** Waits (at most 5 s) until {@code b} has no reset handed to its thread or running. */
  private static void awaitIdle(ConnectBackoff b) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!b.idle() && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(b.idle()).as("the reset thread is done").isTrue();
  }

  @Test
  void resetsWithinTheIntervalAreDropped() throws Exception {
    BlockingChannel channel = new BlockingChannel();
    channel.release.countDown();
    AtomicLong now = new AtomicLong();
    try (ConnectBackoff b = ConnectBackoff.of(channel, Duration.ofSeconds(1), now::get)) {
      b.reset();
      b.reset();
      now.addAndGet(TimeUnit.MILLISECONDS.toNanos(999));
      b.reset();
      assertThat(channel.entered.await(5, TimeUnit.SECONDS)).isTrue();
      b.close();
      assertThat(channel.resets.get()).isEqualTo(1);
    }
  }
}
