package io.kontrol.agent.watch;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchResponse;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.lease.LeaseKeeper;
import java.io.Closeable;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a key prefix of a group, such as its configuration (no polling), and only says
 * "changed": the one who reacts reads what it needs again, so a burst of
 * events is one mark and nothing carries stale data. (The leader keeps the group's records
 * themselves in a {@link GroupView}, from their events.)
 *
 * <p>{@code onChange} also fires once the watch is established (so nothing that happened before
 * it is missed), and after any watch failure — cancellation by compaction, an etcd restart the
 * client could not resume — after which the watch is made again from the current revision.
 */
public final class GroupWatch implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(GroupWatch.class);

  private final Client client;
  private final Group group;
  private final String prefix;
  private final Runnable onChange;
  private final ScheduledExecutorService exec;
  private volatile Watch.Watcher watcher; // set on exec, closed from any thread
  private volatile int failures; // etcd calls one watcher's listener from one thread at a time
  private volatile boolean closed;

  /**
   * Watches the keys of {@code group} under {@code prefix} (e.g. {@link Group#configKey()}).
   *
   * @param exec where re-watches are scheduled (the group's own thread)
   * @param onChange called on etcd's threads: must only mark, never block
   */
  public GroupWatch(Client client, Group group, String prefix, ScheduledExecutorService exec, Runnable onChange) {
    this.client = client;
    this.group = group;
    this.prefix = prefix;
    this.exec = exec;
    this.onChange = onChange;
  }

  public GroupWatch start() {
    exec.execute(this::watch);
    return this;
  }

  private void watch() {
    if (closed) {
      return;
    }
    ByteSequence prefix = ByteSequence.from(this.prefix, StandardCharsets.UTF_8);
    WatchOption opt = WatchOption.builder().isPrefix(true).withCreateNotify(true).build();
    watcher =
        client
            .getWatchClient()
            .watch(
                prefix,
                opt,
                Watch.listener(this::onResponse, this::onError, () -> onError(new IllegalStateException("watch completed"))));
  }

  private void onResponse(WatchResponse r) {
    if (r.isCreatedNotify()) {
      failures = 0;
      LOG.debug("watching group={} prefix={}", group, prefix);
      onChange.run();
    } else if (!r.getEvents().isEmpty()) {
      onChange.run();
    }
  }

  private void onError(Throwable t) {
    if (closed) {
      return;
    }
    long delay = Math.min(5000, 250L << Math.min(5, failures++));
    LOG.warn("watch lost group={} prefix={} error={}; re-reading and watching again", group, prefix, LeaseKeeper.brief(t));
    onChange.run();
    try {
      exec.schedule(
          () -> {
            if (watcher != null) {
              watcher.close();
            }
            watch();
          },
          delay,
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException shuttingDown) {
      // closed meanwhile
    }
  }

  @Override
  public void close() {
    closed = true;
    Watch.Watcher w = watcher;
    if (w != null) {
      w.close();
    }
  }
}
