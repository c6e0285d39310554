package io.kontrol.agent.watch;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.lease.LeaseKeeper;
import java.io.Closeable;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's group in memory: one range read of the group's records, then etcd's watch events
 * from the revision right after that read, applied in order. A join or a leave costs the leader
 * one event, not a read of the whole group, and {@link #snapshot(SnapshotReader)} builds the
 * callback's input from the records held here.
 *
 * <p>The group is read again only when the events cannot be trusted to be complete: the watch's
 * history was compacted away, or etcd answers from a revision older than the view's (its data
 * lost). A watch that breaks otherwise (etcd restarted, a member unreachable) is made again from
 * the revision after the last event applied, so nothing is missed and nothing is read twice.
 *
 * <p>One owner: everything — events, reads, {@link #snapshot(SnapshotReader)}, {@link #pods()} —
 * runs on {@code exec}, the group's single-thread loop (the leader's callback loop). etcd's
 * threads only hand events over to it. {@code onChange} is called on {@code exec} after every
 * change has been applied, and must only mark.
 */
public final class GroupView implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(GroupView.class);

  private final Client client;
  private final Group group;
  private final ScheduledExecutorService exec;
  private final Runnable onChange;
  private final Duration timeout;

  // owned by exec
  private final Map<String, Snapshot.Pod> byId = new HashMap<>();
  private final TreeSet<Snapshot.Pod> bySeq = new TreeSet<>(SnapshotReader.ORDER);
  /** The view holds the group as etcd had it at this revision. */
  private long revision;
  /** False until the first read, and from a compaction until the read after it. */
  private boolean synced;
  /** The current watcher's; what an older watcher still delivers is dropped. */
  private long generation;
  private int failures;

  private volatile Watch.Watcher watcher; // set on exec, closed from any thread
  private volatile boolean closed;
  private volatile int reads;

  /**
   * @param exec the group's single-thread loop, where every part of the view runs
   * @param onChange called on {@code exec} once a change is applied: must only mark
   * @param timeout for the range read
   */
  public GroupView(Client client, Group group, ScheduledExecutorService exec, Runnable onChange, Duration timeout) {
    this.client = client;
    this.group = group;
    this.exec = exec;
    this.onChange = onChange;
    this.timeout = timeout;
  }

  /** Reads the group, then follows it; returns at once. */
  public GroupView start() {
    run(() -> read("start"));
    return this;
  }

  /**
   * The group: its records from this view, its state, members and configuration read now by
   * {@code reader} (three keys). On {@code exec} only.
   *
   * @throws IllegalStateException while the group is being read again
   */
  public Snapshot snapshot(SnapshotReader reader) throws InterruptedException, ExecutionException, TimeoutException {
    if (!synced) {
      throw new IllegalStateException("the group " + group + " is being read again");
    }
    Snapshot s = reader.read(group, List.copyOf(bySeq));
    if (s.revision() < revision) {
      LOG.warn("etcd revision went back group={} from={} to={} (etcd lost its data?); reading the group again",
          group, revision, s.revision());
      synced = false;
      run(() -> read("revision went back"));
      throw new IllegalStateException("etcd answered at revision " + s.revision() + ", before the group's " + revision);
    }
    return s;
  }

  /** The records held now, in seq order. On {@code exec} only. */
  public List<Snapshot.Pod> pods() {
    return List.copyOf(bySeq);
  }

  /** The revision the view holds the group at. On {@code exec} only. */
  public long revision() {
    return revision;
  }

  /** How many times the whole group was read: once at the start, then once per compaction or data loss. */
  public int reads() {
    return reads;
  }

  private void read(String why) {
    if (closed) {
      return;
    }
    long gen = ++generation; // what the old watcher still delivers is dropped
    closeWatcher();
    synced = false;
    GetResponse r;
    try {
      r = client.getKVClient()
          .get(bytes(group.podsPrefix()), GetOption.builder().isPrefix(true).build())
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) {
      long delay = delay();
      LOG.warn("group read failed group={} error={}; again in {} ms", group, LeaseKeeper.brief(e), delay);
      schedule(() -> {
        if (gen == generation) {
          read(why);
        }
      }, delay);
      return;
    }
    byId.clear();
    bySeq.clear();
    for (KeyValue kv : r.getKvs()) {
      SnapshotReader.pod(group, kv).ifPresent(p -> {
        byId.put(p.id(), p);
        bySeq.add(p);
      });
    }
    revision = r.getHeader().getRevision();
    synced = true;
    reads++;
    LOG.info("group read group={} pods={} revision={} reason={}", group, bySeq.size(), revision, why);
    watch(gen, revision + 1);
    onChange.run();
  }

  private void watch(long gen, long from) {
    if (closed || gen != generation) {
      return;
    }
    WatchOption opt = WatchOption.builder().isPrefix(true).withRevision(from).withCreateNotify(true).build();
    watcher =
        client
            .getWatchClient()
            .watch(
                bytes(group.podsPrefix()),
                opt,
                Watch.listener(
                    r -> run(() -> onResponse(gen, r)),
                    t -> run(() -> onError(gen, t)),
                    () -> run(() -> onError(gen, new IllegalStateException("watch completed")))));
  }

  private void onResponse(long gen, WatchResponse r) {
    if (closed || gen != generation) {
      return;
    }
    if (r.isCreatedNotify()) {
      failures = 0;
      if (r.getHeader().getRevision() < revision) {
        LOG.warn("etcd revision went back group={} from={} to={} (etcd lost its data?); reading the group again",
            group, revision, r.getHeader().getRevision());
        read("revision went back");
      } else {
        LOG.debug("watching group={} from revision={}", group, revision + 1);
      }
      return;
    }
    long from = revision; // events of one revision (one transaction) come in one response
    boolean changed = false;
    for (WatchEvent ev : r.getEvents()) {
      KeyValue kv = ev.getKeyValue();
      long rev = kv.getModRevision();
      if (rev <= from) {
        continue; // already in the view
      }
      String id = kv.getKey().toString(StandardCharsets.UTF_8).substring(group.podsPrefix().length());
      Snapshot.Pod old = byId.remove(id);
      if (old != null) {
        bySeq.remove(old);
      }
      if (ev.getEventType() == WatchEvent.EventType.PUT) {
        Optional<Snapshot.Pod> p = SnapshotReader.pod(group, kv);
        p.ifPresent(pod -> {
          byId.put(pod.id(), pod);
          bySeq.add(pod);
        });
      }
      revision = Math.max(revision, rev);
      changed = true;
    }
    if (changed) {
      onChange.run();
    }
  }

  private void onError(long gen, Throwable t) {
    if (closed || gen != generation) {
      return;
    }
    long next = ++generation;
    closeWatcher();
    long delay = delay();
    CompactedException compacted = compacted(t);
    if (compacted != null) {
      LOG.warn("watch compacted group={} revision={} compactedAt={}; reading the group again in {} ms",
          group, revision, compacted.getCompactedRevision(), delay);
      synced = false; // the events it missed are gone
      schedule(() -> {
        if (next == generation) {
          read("compacted");
        }
      }, delay);
    } else {
      LOG.warn("watch lost group={} error={}; watching again from revision {} in {} ms",
          group, LeaseKeeper.brief(t), revision + 1, delay);
      schedule(() -> watch(next, revision + 1), delay);
    }
  }

  private static CompactedException compacted(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof CompactedException e) {
        return e;
      }
    }
    return null;
  }

  /** 250 ms, doubling with each failure in a row, at most 5 s. */
  private long delay() {
    return Math.min(5000, 250L << Math.min(5, failures++));
  }

  private void closeWatcher() {
    Watch.Watcher w = watcher;
    watcher = null;
    if (w != null) {
      w.close();
    }
  }

  private void run(Runnable r) {
    try {
      exec.execute(r);
    } catch (RejectedExecutionException shuttingDown) {
      // closed meanwhile
    }
  }

  private void schedule(Runnable r, long delayMillis) {
    try {
      exec.schedule(r, delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException shuttingDown) {
      // closed meanwhile
    }
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  /** Stops following the group; from any thread. */
  @Override
  public void close() {
    closed = true;
    Watch.Watcher w = watcher;
    if (w != null) {
      w.close();
    }
  }
}
