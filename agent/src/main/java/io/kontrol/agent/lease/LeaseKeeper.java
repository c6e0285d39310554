package io.kontrol.agent.lease;

import io.etcd.jetcd.Lease;
import io.etcd.jetcd.common.exception.ErrorCode;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
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
 * babysit), asynchronously: the thread is never blocked on etcd while a lease is held. The lease is
 * <em>lost</em> when etcd says it is gone (TTL ≤ 0 / not found), or when no keepalive has succeeded
 * for a whole TTL counted from when the last good one was <em>sent</em> (etcd may have expired it
 * while unreachable): a timer gives it up a margin ({@link #marginNanos()}) before the earliest
 * moment etcd could expire it, so a leader deposed by its lease stops before a successor can be
 * elected. Then the listener hears {@code onLost}, a new lease is granted as soon as etcd answers,
 * and the listener hears {@code onLease} again. Never gives up.
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
  /** Gives the lease up a margin before etcd may expire it, unless a keepalive renews it first. */
  private ScheduledFuture<?> expiry;
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
    return leaseId != 0
        && nanoClock.getAsLong() - lastOkNanos < TimeUnit.SECONDS.toNanos(ttlSeconds) - marginNanos();
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
    if (expiry != null) {
      expiry.cancel(false);
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
      long sent = nanoClock.getAsLong();
      long id = leases.grant(ttlSeconds).get(callTimeout.toMillis(), TimeUnit.MILLISECONDS).getID();
      leaseId = id;
      renewed(sent);
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
    // etcd renews the lease when the keepalive arrives, so the lease lasts at least a TTL from
    // the moment it was sent: the sending time is what isLive() and the expiry timer count from
    long sent = nanoClock.getAsLong();
    CompletableFuture<LeaseKeepAliveResponse> call;
    try {
      call = leases.keepAliveOnce(id);
    } catch (RuntimeException e) {
      keptAlive(id, sent, null, e);
      return;
    }
    // asynchronous: the thread stays free for the expiry timer while etcd does not answer
    call.orTimeout(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
        .whenComplete((r, e) -> execute(() -> keptAlive(id, sent, r, e)));
  }

  private void keptAlive(long id, long sent, LeaseKeepAliveResponse r, Throwable e) {
    if (closed || leaseId != id) {
      return; // lost meanwhile (the expiry timer), or closed: a late answer
    }
    if (e == null) {
      contact(true);
      if (r.getTTL() <= 0) {
        lose(id, "expired");
        schedule(0, this::grant);
        return;
      }
      renewed(sent);
      schedule(keepAlivePeriodMillis(), this::keepAlive);
      return;
    }
    if (isNotFound(e)) {
      contact(true);
      lose(id, "expired");
      schedule(0, this::grant);
      return;
    }
    contact(false);
    LOG.debug("keepalive failed what={} lease={} error={}", what, Long.toHexString(id), brief(e));
    schedule(retryMillis(), this::keepAlive);
  }

  /**
   * A keepalive sent at {@code sentNanos} succeeded: the lease lives at least a TTL from then. The
   * expiry timer is set a margin before that, so that whoever acts on this lease stops before etcd
   * can give its keys (a leadership) to someone else.
   */
  private void renewed(long sentNanos) {
    lastOkNanos = sentNanos;
    if (expiry != null) {
      expiry.cancel(false);
    }
    long ttl = TimeUnit.SECONDS.toNanos(ttlSeconds);
    long delay = sentNanos + ttl - marginNanos() - nanoClock.getAsLong();
    long id = leaseId;
    expiry = exec.schedule(() -> expire(id), Math.max(0, delay), TimeUnit.NANOSECONDS);
  }

  private void expire(long id) {
    if (closed || leaseId != id) {
      return;
    }
    lose(id, "no keepalive for a whole TTL");
    stale = id;
    schedule(0, this::grant);
  }

  /** How long before the lease's earliest expiry at etcd it is given up here: TTL/10, 100 ms to 1 s. */
  long marginNanos() {
    return TimeUnit.MILLISECONDS.toNanos(Math.max(100, Math.min(1000, ttlSeconds * 100)));
  }

  private void execute(Runnable task) {
    try {
      exec.execute(guarded(task));
    } catch (RejectedExecutionException shutDown) {
      // the owner's executor is gone: nothing more to keep
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
    if (expiry != null) {
      expiry.cancel(false);
      expiry = null;
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
    next = exec.schedule(guarded(task), delayMillis, TimeUnit.MILLISECONDS);
  }

  /** A task that throws is never run again by the executor: keep the lease loop alive. */
  private Runnable guarded(Runnable task) {
    return () -> {
      try {
        task.run();
      } catch (RuntimeException e) {
        LOG.warn("lease task failed what={} error={}", what, brief(e));
        schedule(retryMillis(), leaseId == 0 ? this::grant : this::keepAlive);
      }
    };
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
