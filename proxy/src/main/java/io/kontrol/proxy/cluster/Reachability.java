package io.kontrol.proxy.cluster;

import java.io.Closeable;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the cluster answers: a {@code describeCluster} every few seconds on one scheduler thread
 * ({@code proxy-health}). The proxy keeps serving either way; this is what {@code /health} and the
 * log report, one line per change.
 */
public final class Reachability implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(Reachability.class);

  /** The last answer: reachable or not, how many brokers, since when, and why not. */
  public record State(boolean up, int brokers, Instant since, String detail) {}

  private final Admin admin;
  private final ScheduledExecutorService scheduler;
  private volatile State state = new State(false, 0, Instant.now(), "not checked yet");

  public Reachability(Admin admin, Duration every) {
    this.admin = admin;
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "proxy-health");
              t.setDaemon(true);
              return t;
            });
    scheduler.scheduleWithFixedDelay(this::check, 0, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  public State state() {
    return state;
  }

  private void check() {
    State next;
    try {
      int n =
          admin
              .describeCluster(new DescribeClusterOptions().timeoutMs(5000))
              .nodes()
              .get(6, TimeUnit.SECONDS)
              .size();
      next = state.up() && state.brokers() == n ? state : new State(true, n, Instant.now(), "");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) { // everything a failed check can throw: it is reported, never fatal
      String why = e.getCause() != null ? e.getCause().toString() : e.toString();
      next = state.up() || state.detail().equals("not checked yet")
          ? new State(false, 0, Instant.now(), why)
          : state;
    }
    if (next != state) {
      if (next.up()) {
        log.info("kafka reachable brokers={}", next.brokers());
      } else {
        log.warn("kafka unreachable: {}", next.detail());
      }
      state = next;
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
