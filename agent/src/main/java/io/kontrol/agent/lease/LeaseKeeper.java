package io.kontrol.agent.lease;

import io.etcd.jetcd.Lease;
import io.etcd.jetcd.common.exception.ErrorCode;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds one etcd lease alive, and replaces it when it is lost. Not thread-safe: every method runs
 * on the owner's single-thread executor, and so do the listener's calls.
 *
 * <p>A keepalive is sent every TTL/3 ({@code keepAliveOnce}, so there is no long-lived stream to
 * babysit). The lease is <em>lost</em> when etcd says it is gone (TTL ≤ 0 / not found), or when no
 * keepalive has succeeded for a whole TTL (etcd may have expired it while unreachable). Then the
 * listener hears {@code onLost}, a new lease is granted as soon as etcd answers, and the listener
 * hears {@code onLease} again. Never gives up.
 */
public final class LeaseKeeper {
  private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

  /** What the owner does with its lease. Called on the owner's executor. */
  public interface Listener {
    /** A new lease, first or after a loss: attach keys to it. */
    void onLease(long leaseId);

    /** The lease is gone (or presumed gone); its keys are (or will be) deleted by etcd. */
    void onLost(long leaseId);

    /** etcd answered a grant or keepalive ({@code ok}), or did not. For health and metrics. */
    default void onContact(boolean ok) {}
  }

  private final Lease leases;
  private final long ttlSeconds;
  private final String what;
  private final ScheduledExecutorService exec;
  private final LongSupplier nanoClock;
  private final Listener listener;
  private final Duration callTimeout;

  private volatile long leaseId; // volatile: read by health checks
  /** A lease presumed lost while etcd was unreachable: revoked once a new lease is held. */
  private long stale;
  private volatile long lastOkNanos;
  private ScheduledFuture<?> next;
  private boolean closed;

  public LeaseKeeper(
      Lease leases,
      Duration ttl,
      String what,
      ScheduledExecutorService exec,
      LongSupplier nanoClock,
      Listener listener) {
    this.leases = leases;
    this.ttlSeconds = Math.max(1, ttl.toSeconds());
    this.what = what;
    this.exec = exec;
    this.nanoClock = nanoClock;
    this.listener = listener;
    this.callTimeout = Duration.ofMillis(Math.max(500, Math.min(3000, ttlSeconds * 1000 / 3)));
  }

  /** Grants the first lease (asynchronously). Call on the executor. */
  public void start() {
    schedule(0, this::grant);
  }

  /** The current lease id, 0 when none. */
  public long leaseId() {
    return leaseId;
  }

  /**
   * True when a lease is held and its last keepalive succeeded less than a TTL ago (so etcd has
   * not expired it). Any thread.
   */
  public boolean isLive() {
    return leaseId != 0 && nanoClock.getAsLong() - lastOkNanos < TimeUnit.SECONDS.toNanos(ttlSeconds);
  }

  /** Stops keeping the lease alive and revokes it (bounded), so its keys vanish at once. */
  public void close(Duration timeout) {
    if (closed) {
      return;
    }
    closed = true;
    if (next != null) {
      next.cancel(false);
    }
    if (leaseId != 0) {
      revokeQuietly(leaseId, timeout);
      leaseId = 0;
    }
  }

  private void grant() {
    if (closed) {
      return;
    }
    try {
      long id = leases.grant(ttlSeconds).get(callTimeout.toMillis(), TimeUnit.MILLISECONDS).getID();
      lastOkNanos = nanoClock.getAsLong();
      leaseId = id;
      contact(true);
      LOG.debug("lease granted what={} lease={} ttl={}s", what, Long.toHexString(id), ttlSeconds);
      schedule(keepAlivePeriodMillis(), this::keepAlive);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) {
      contact(false);
      LOG.warn("lease grant failed what={} error={}; retrying", what, brief(e));
      schedule(retryMillis(), this::grant);
      return;
    }
    try {
      listener.onLease(leaseId);
    } catch (RuntimeException e) {
      LOG.warn("lease listener failed what={} error={}", what, brief(e));
    }
    if (stale != 0) {
      // etcd may have kept the old lease through its outage (it extends leases on restart):
      // revoke it now that the keys are on the new one, so nothing lingers until its TTL
      revokeQuietly(stale, callTimeout);
      stale = 0;
    }
  }

  private void keepAlive() {
    if (closed || leaseId == 0) {
      return;
    }
    long id = leaseId;
    try {
      LeaseKeepAliveResponse r =
          leases.keepAliveOnce(id).get(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
      contact(true);
      if (r.getTTL() <= 0) {
        lose(id, "expired");
        schedule(0, this::grant);
        return;
      }
      lastOkNanos = nanoClock.getAsLong();
      schedule(keepAlivePeriodMillis(), this::keepAlive);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      if (isNotFound(e)) {
        contact(true);
        lose(id, "expired");
        schedule(0, this::grant);
        return;
      }
      contact(false);
      if (nanoClock.getAsLong() - lastOkNanos >= TimeUnit.SECONDS.toNanos(ttlSeconds)) {
        lose(id, "no keepalive for a whole TTL (" + brief(e) + ")");
        stale = id;
        schedule(0, this::grant);
      } else {
        LOG.debug("keepalive failed what={} lease={} error={}", what, Long.toHexString(id), brief(e));
        schedule(retryMillis(), this::keepAlive);
      }
    }
  }

  private void contact(boolean ok) {
    try {
      listener.onContact(ok);
    } catch (RuntimeException e) {
      LOG.debug("lease listener failed what={} error={}", what, brief(e));
    }
  }

  private void lose(long id, String why) {
    LOG.warn("lease lost what={} lease={} reason={}", what, Long.toHexString(id), why);
    leaseId = 0;
    if (next != null) {
      next.cancel(false);
    }
    listener.onLost(id);
  }

  private void revokeQuietly(long id, Duration timeout) {
    try {
      leases.revoke(id).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      LOG.debug("lease revoked what={} lease={}", what, Long.toHexString(id));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.debug("lease revoke failed what={} lease={} error={}", what, Long.toHexString(id), brief(e));
    }
  }

  private long keepAlivePeriodMillis() {
    return Math.max(250, ttlSeconds * 1000 / 3);
  }

  private long retryMillis() {
    return Math.max(200, Math.min(1000, ttlSeconds * 1000 / 6));
  }

  private void schedule(long delayMillis, Runnable task) {
    if (closed) {
      return;
    }
    next =
        exec.schedule(
            () -> {
              try {
                task.run();
              } catch (RuntimeException e) {
                // a scheduled task that throws is never run again: keep the lease loop alive
                LOG.warn("lease task failed what={} error={}", what, brief(e));
                schedule(retryMillis(), leaseId == 0 ? this::grant : this::keepAlive);
              }
            },
            delayMillis,
            TimeUnit.MILLISECONDS);
  }

  static boolean isNotFound(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof EtcdException ee && ee.getErrorCode() == ErrorCode.NOT_FOUND) {
        return true;
      }
      String m = t.getMessage();
      if (m != null && m.contains("requested lease not found")) {
        return true;
      }
    }
    return false;
  }

  /** One line for a log: the innermost cause's class and message. */
  public static String brief(Throwable e) {
    Throwable t = e;
    while ((t instanceof ExecutionException || t.getCause() != null && t.getMessage() == null)
        && t.getCause() != null) {
      t = t.getCause();
    }
    String m = t.getMessage();
    String s = t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
