package io.kontrol.agent.election;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.election.CampaignResponse;
import io.etcd.jetcd.election.LeaderKey;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.lease.LeaseKeeper;
import io.kontrol.agent.metrics.AgentEvents;
import java.io.Closeable;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Master mode: campaigns for the leadership of one group with etcd's election API, on a lease of
 * its own with TTL {@code KONTROL_FOVER}. A crashed leader's key goes with its lease, so a
 * successor takes over at most FOVER later; a leader that shuts down resigns, so a successor
 * takes over at once.
 *
 * <p>Leadership is acted on only after checking that the leader key really exists and carries this
 * agent's lease (a campaign can return after the key was lost). It is dropped first, before
 * anything else, when the lease is lost or the key disappears; then the agent campaigns again.
 *
 * <p>All state is owned by the thread {@code kontrol-election-<app>}, which also keeps the
 * election lease alive, so nothing there blocks: etcd is asked asynchronously, and the listener is
 * called on a thread of its own, {@code kontrol-leadership-<app>}, in order, only on transitions
 * (a slow listener cannot cost the lease). The state may have changed again by the time a call
 * arrives.
 *
 * <p>An error on the leader key's watch (cancelled, compacted, etcd lost) is an input like any
 * other: the key is read again, and either its loss ends the term or it is watched again from the
 * revision just read.
 */
public final class LeaderElection implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(LeaderElection.class);

  /** What the agent does on transitions. Called in order on the election's listener thread. */
  public interface Listener {
    void elected(Leadership leadership);

    void deposed(Leadership leadership, String why);
  }

  private enum State {
    LATENT,
    STARTED,
    CLOSED
  }

  private final Client client;
  private final Group group;
  private final String candidate;
  private final Listener listener;
  private final ScheduledExecutorService exec;
  private final ExecutorService transitions;
  private final LeaseKeeper lease;
  private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);

  // owned by exec
  private long generation;
  private Leadership leader;
  private Watch.Watcher keyWatch;

  private volatile Optional<Leadership> current = Optional.empty();

  public LeaderElection(
      Client client, Group group, String candidate, Duration fover, Listener listener) {
    this(client, group, candidate, fover, listener, AgentEvents.NONE);
  }

  /** As above, reporting etcd contact of the election's lease loop to {@code events}. */
  public LeaderElection(
      Client client,
      Group group,
      String candidate,
      Duration fover,
      Listener listener,
      AgentEvents events) {
    this.client = client;
    this.group = group;
    this.candidate = candidate;
    this.listener = listener;
    this.exec =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(() -> {
                org.slf4j.MDC.put("group", group.toString()); // a field of every JSON log line
                r.run();
              }, "kontrol-election-" + group.app());
              t.setDaemon(true);
              return t;
            });
    this.transitions =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "kontrol-leadership-" + group.app());
              t.setDaemon(true);
              return t;
            });
    this.lease =
        new LeaseKeeper(
            client.getLeaseClient(),
            fover,
            "election group=" + group + " pod=" + candidate,
            exec,
            System::nanoTime,
            new LeaseKeeper.Listener() {
              @Override
              public void onLease(long leaseId) {
                campaign(leaseId);
              }

              @Override
              public void onContact(boolean ok) {
                events.etcdContact(ok);
              }

              @Override
              public void onLost(long leaseId) {
                generation++;
                depose("election lease lost");
              }
            });
  }

  public LeaderElection start() {
    if (!state.compareAndSet(State.LATENT, State.STARTED)) {
      throw new IllegalStateException("already " + state.get());
    }
    exec.execute(lease::start);
    return this;
  }

  public Group group() {
    return group;
  }

  /** The current term, if this agent leads the group now. */
  public Optional<Leadership> current() {
    return current;
  }

  public boolean isLeader() {
    return current.isPresent();
  }

  /** True when the election's lease is held and was kept alive less than FOVER ago. */
  public boolean leaseLive() {
    return lease.isLive();
  }

  /** The election's own thread, for liveness checks. */
  public ScheduledExecutorService executor() {
    return exec;
  }

  private void campaign(long leaseId) {
    if (state.get() != State.STARTED || leaseId == 0) {
      return;
    }
    long gen = ++generation;
    LOG.debug("campaigning group={} pod={} lease={}", group, candidate, Long.toHexString(leaseId));
    client
        .getElectionClient()
        .campaign(bytes(group.leaderKey()), leaseId, bytes(candidate))
        .whenComplete((r, e) -> execute(() -> campaigned(gen, leaseId, r, e)));
  }

  private void campaigned(long gen, long leaseId, CampaignResponse r, Throwable e) {
    if (state.get() != State.STARTED || gen != generation || lease.leaseId() != leaseId) {
      return; // a stale campaign: its lease or its term is gone
    }
    if (e != null) {
      LOG.debug("campaign failed group={} pod={} error={}; again", group, candidate, LeaseKeeper.brief(e));
      exec.schedule(() -> retry(gen, leaseId), 1, TimeUnit.SECONDS);
      return;
    }
    LeaderKey key = r.getLeader();
    client.getKVClient().get(key.getKey())
        .orTimeout(3, TimeUnit.SECONDS)
        .whenComplete((got, err) -> execute(() -> checked(gen, leaseId, key, err == null && holds(got.getKvs(), key, leaseId))));
  }

  /** The campaign's key was read back: act as leader only when it really is ours. */
  private void checked(long gen, long leaseId, LeaderKey key, boolean ours) {
    if (state.get() != State.STARTED || gen != generation || lease.leaseId() != leaseId) {
      return;
    }
    if (!ours) {
      LOG.info("campaign returned but the leader key is not ours group={} pod={}; again", group, candidate);
      exec.schedule(() -> retry(gen, leaseId), 200, TimeUnit.MILLISECONDS);
      return;
    }
    leader = new Leadership(group, key, client.getKVClient());
    watchKey(gen, key, key.getRevision() + 1);
    current = Optional.of(leader);
    LOG.info("elected group={} pod={} key={}", group, candidate, leader.key());
    Leadership l = leader;
    notify(() -> listener.elected(l));
  }

  /** Runs a listener call on the listener thread; a failing listener is logged, not fatal. */
  private Future<?> notify(Runnable call) {
    try {
      return transitions.submit(() -> {
        try {
          call.run();
        } catch (RuntimeException ex) {
          LOG.warn("election listener failed group={} error={}", group, LeaseKeeper.brief(ex));
        }
      });
    } catch (RejectedExecutionException closed) {
      return CompletableFuture.completedFuture(null);
    }
  }

  private void retry(long gen, long leaseId) {
    if (gen == generation && lease.leaseId() == leaseId) {
      campaign(leaseId);
    }
  }

  /** Does the leader key exist, created at the revision we won, on our lease? */
  private static boolean holds(List<KeyValue> kvs, LeaderKey key, long leaseId) {
    return !kvs.isEmpty()
        && kvs.get(0).getCreateRevision() == key.getRevision()
        && kvs.get(0).getLease() == leaseId;
  }

  /** Deletion of our key (by anyone, or its lease expiring) ends the term. */
  private void watchKey(long gen, LeaderKey key, long fromRevision) {
    WatchOption opt =
        WatchOption.builder().withRevision(fromRevision).withNoPut(true).build();
    keyWatch =
        client
            .getWatchClient()
            .watch(
                key.getKey(),
                opt,
                Watch.listener(
                    resp -> {
                      for (WatchEvent ev : resp.getEvents()) {
                        if (ev.getEventType() == WatchEvent.EventType.DELETE) {
                          execute(() -> keyGone(gen));
                        }
                      }
                    },
                    err -> execute(() -> watchFailed(gen, key, err))));
  }

  /** The key's watch ended with an error: read the key again, then depose or watch again. */
  private void watchFailed(long gen, LeaderKey key, Throwable err) {
    if (gen != generation || leader == null) {
      return;
    }
    LOG.info("leader key watch failed group={} pod={} error={}; reading the key again", group, candidate, LeaseKeeper.brief(err));
    if (keyWatch != null) {
      keyWatch.close();
      keyWatch = null;
    }
    long leaseId = lease.leaseId();
    client.getKVClient().get(key.getKey())
        .orTimeout(3, TimeUnit.SECONDS)
        .whenComplete((got, e) -> execute(() -> {
          if (gen != generation || leader == null) {
            return;
          }
          if (e != null) {
            // etcd unreachable: try again; the lease keeper deposes if this lasts a whole FOVER
            exec.schedule(() -> watchFailed(gen, key, e), 1, TimeUnit.SECONDS);
          } else if (!holds(got.getKvs(), key, leaseId)) {
            keyGone(gen);
          } else {
            watchKey(gen, key, got.getHeader().getRevision() + 1);
          }
        }));
  }

  private void keyGone(long gen) {
    if (gen != generation || leader == null) {
      return;
    }
    generation++;
    depose("leader key deleted");
    campaign(lease.leaseId());
  }

  private void depose(String why) {
    if (keyWatch != null) {
      keyWatch.close();
      keyWatch = null;
    }
    Leadership l = leader;
    if (l == null) {
      return;
    }
    leader = null;
    current = Optional.empty();
    LOG.warn("deposed group={} pod={} reason={}", group, candidate, why);
    notify(() -> listener.deposed(l, why));
  }

  private void execute(Runnable r) {
    try {
      exec.execute(r);
    } catch (java.util.concurrent.RejectedExecutionException closed) {
      // closed: late answers from etcd are dropped
    }
  }

  /**
   * Steps down (the listener hears {@code deposed} first, so the leader's work stops), resigns so
   * a successor is elected at once, and revokes the election lease. Bounded.
   */
  @Override
  public void close() {
    if (state.getAndSet(State.CLOSED) != State.STARTED) {
      exec.shutdownNow();
      transitions.shutdownNow();
      return;
    }
    try {
      exec.submit(
              () -> {
                generation++;
                Leadership l = leader;
                if (l != null) {
                  if (keyWatch != null) {
                    keyWatch.close();
                    keyWatch = null;
                  }
                  leader = null;
                  current = Optional.empty();
                  // the leader's work stops before a successor can be elected
                  try {
                    notify(() -> listener.deposed(l, "shutting down")).get(5, TimeUnit.SECONDS);
                  } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                  } catch (Exception ex) {
                    LOG.warn("election listener did not stop in time group={} error={}", group, LeaseKeeper.brief(ex));
                  }
                  try {
                    client.getElectionClient().resign(l.leaderKey()).get(2, TimeUnit.SECONDS);
                    LOG.info("resigned group={} pod={}", group, candidate);
                  } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                  } catch (Exception ex) {
                    LOG.debug("resign failed group={} error={}", group, LeaseKeeper.brief(ex));
                  }
                }
                lease.close(Duration.ofSeconds(2));
              })
          .get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.warn("election close failed group={} error={}", group, LeaseKeeper.brief(e));
    } finally {
      exec.shutdownNow();
      transitions.shutdown();
      try {
        transitions.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      transitions.shutdownNow();
    }
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return "LeaderElection{group=" + group + ", pod=" + candidate + ", leader=" + isLeader() + "}";
  }
}
