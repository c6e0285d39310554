package io.kontrol.proxy.consume;

import io.kontrol.proxy.ProxyError;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer of one (group, topic): one {@link KafkaConsumer} in the group, owned by one thread
 * ({@code proxy-consume-<group>-<topic>}), which is the only one to touch it and the partition
 * state. Requests reach that thread as commands on a queue (and a {@link KafkaConsumer#wakeup()}
 * so that a waiting poll returns at once).
 *
 * <p>Delivery is per message and at least once: a message handed to a request stays pending until
 * acknowledged; if no ack comes within the ack timeout it is offered again, possibly to another
 * request. The committed offset of a partition is the lowest message not yet acknowledged, committed
 * every commit interval. With no request for the subscription timeout the consumer commits,
 * leaves the group and closes.
 */
public final class GroupConsumer {
  private static final Logger log = LoggerFactory.getLogger(GroupConsumer.class);
  private static final Duration POLL = Duration.ofMillis(100);
  private static final Duration CLOSE = Duration.ofSeconds(5);
  private static final int PAUSE_AT = 1000;
  private static final int RESUME_AT = 200;
  static final int MAX_WAITERS = 256;

  /** Settings every consumer of a proxy shares. */
  public record Settings(
      String bootstrap,
      Map<String, String> overrides,
      String initialOffset,
      Duration ackTimeout,
      Duration subscriptionTimeout,
      int maxPending,
      Duration commitInterval) {}

  /** A consume request waiting for a message until {@code deadline}. */
  private record Waiter(CompletableFuture<Delivery> future, long deadline, boolean autoAck) {}

  private final String group;
  private final String topic;
  private final Settings settings;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Thread thread;
  private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
  private final Consumer<GroupConsumer> onClosed;
  private volatile boolean closing;

  // owned by `thread`
  private final Map<TopicPartition, PartitionState> parts = new HashMap<>();
  private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
  private long lastRequest = System.nanoTime();
  private long lastCommit = System.nanoTime();
  private int nextPartition;
  private boolean commitFailing;

  GroupConsumer(String group, String topic, String clientId, Settings settings, Consumer<GroupConsumer> onClosed) {
    this.group = group;
    this.topic = topic;
    this.settings = settings;
    this.onClosed = onClosed;
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrap());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, settings.initialOffset());
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "100");
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    // a member that could not leave (the broker was down when it closed) holds up the group's
    // next join until its session expires: keep that short (the broker's minimum is 6 s)
    p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
    p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "3000");
    p.putAll(settings.overrides());
    this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    this.thread = new Thread(this::run, "proxy-consume-" + group + "-" + topic);
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  public String group() {
    return group;
  }

  public String topic() {
    return topic;
  }

  /**
   * Acknowledges what {@code ack} names, then waits up to {@code longPoll} for a message to
   * complete {@code f} with. {@code f} fails with 408 when none comes in time, 429 when too many
   * requests already wait, 503 when this consumer closes meanwhile. Cancelling {@code f} withdraws
   * the request. Returns false, leaving {@code f} alone, if this consumer is closing already.
   */
  boolean consume(Ack ack, Duration longPoll, CompletableFuture<Delivery> f) {
    long deadline = System.nanoTime() + longPoll.toNanos();
    return offer(
        () -> {
          lastRequest = System.nanoTime();
          if (ack.mode() == Ack.Mode.EXPLICIT) {
            applyAck(ack.partition(), ack.offset());
          }
          if (f.isDone()) {
            return; // cancelled: the client went away while queued
          }
          if (waiters.size() >= MAX_WAITERS) {
            f.completeExceptionally(
                new ProxyError(ProxyError.Kind.TOO_MANY_REQUESTS,
                    "too many consume requests waiting for group " + group + " topic " + topic
                        + " (" + MAX_WAITERS + ")"));
            return;
          }
          waiters.add(new Waiter(f, deadline, ack.mode() == Ack.Mode.AUTO));
        });
  }

  /** Acknowledges one message; completes once applied (an unknown or old offset is a no-op). */
  CompletableFuture<Void> ackNow(int partition, long offset) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    if (!offer(() -> {
      lastRequest = System.nanoTime();
      applyAck(partition, offset);
      f.complete(null);
    })) {
      f.completeExceptionally(closingError());
    }
    return f;
  }

  void ack(int partition, long offset) {
    offer(() -> applyAck(partition, offset));
  }

  /** The client never got this message: offer it again now. */
  void release(int partition, long offset) {
    offer(
        () -> {
          PartitionState s = parts.get(new TopicPartition(topic, partition));
          if (s == null) {
            return;
          }
          PartitionState.Pending p = s.pending.remove(offset);
          if (p != null) {
            s.retry.put(offset, p.record());
          }
        });
  }

  /** Partitions currently assigned to this consumer (read on its thread). */
  CompletableFuture<List<Integer>> assignment() {
    CompletableFuture<List<Integer>> f = new CompletableFuture<>();
    if (!offer(() -> f.complete(parts.keySet().stream().map(TopicPartition::partition).sorted().toList()))) {
      f.complete(List.of());
    }
    return f;
  }

  boolean isClosing() {
    return closing;
  }

  /** Asks the thread to commit, leave the group and close; waits for it at most {@code timeout}. */
  void close(Duration timeout) {
    requestClose();
    awaitClosed(timeout);
  }

  void requestClose() {
    closing = true;
    wakeup();
  }

  private void wakeup() {
    try {
      consumer.wakeup();
    } catch (RuntimeException e) {
      // closed already
    }
  }

  void awaitClosed(Duration timeout) {
    try {
      thread.join(Math.max(1, timeout.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private boolean offer(Runnable command) {
    if (closing) {
      return false;
    }
    commands.add(command);
    wakeup();
    return true;
  }

  private ProxyError closingError() {
    return new ProxyError(ProxyError.Kind.UNAVAILABLE, "consumer for group " + group + " topic " + topic + " is closing");
  }

  // ---- the consumer thread ----

  private void run() {
    log.info("consumer start group={} topic={}", group, topic);
    try {
      consumer.subscribe(List.of(topic), new Rebalance());
      while (!closing) {
        runCommands();
        poll();
        long now = System.nanoTime();
        for (PartitionState s : parts.values()) {
          s.expire(now);
        }
        serve(now);
        expireWaiters(now);
        commitIfDue(now, false);
        if (waiters.isEmpty() && commands.isEmpty()
            && now - lastRequest > settings.subscriptionTimeout().toNanos()) {
          log.info("consumer idle group={} topic={} for {} s: closing", group, topic,
              settings.subscriptionTimeout().toSeconds());
          closing = true;
        }
      }
    } catch (InterruptException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.warn("consumer failed group={} topic={}: {}", group, topic, e.toString());
    } finally {
      closing = true;
      shutdown();
    }
  }

  private void runCommands() {
    Runnable c;
    while ((c = commands.poll()) != null) {
      c.run();
    }
  }

  private void poll() {
    try {
      ConsumerRecords<byte[], byte[]> records = consumer.poll(pollTimeout());
      for (ConsumerRecord<byte[], byte[]> r : records) {
        PartitionState s = parts.get(new TopicPartition(r.topic(), r.partition()));
        if (s != null) {
          s.add(r);
        }
      }
      flowControl();
    } catch (WakeupException e) {
      // a command arrived
    }
  }

  private Duration pollTimeout() {
    if (!commands.isEmpty()) {
      return Duration.ZERO;
    }
    long wait = POLL.toNanos();
    long now = System.nanoTime();
    for (Waiter w : waiters) {
      wait = Math.min(wait, Math.max(0, w.deadline() - now));
    }
    return Duration.ofNanos(wait);
  }

  private void flowControl() {
    List<TopicPartition> pause = new ArrayList<>();
    List<TopicPartition> resume = new ArrayList<>();
    parts.forEach(
        (tp, s) -> {
          if (!s.paused && s.fresh.size() >= PAUSE_AT) {
            s.paused = true;
            pause.add(tp);
          } else if (s.paused && s.fresh.size() <= RESUME_AT) {
            s.paused = false;
            resume.add(tp);
          }
        });
    if (!pause.isEmpty()) {
      consumer.pause(pause);
    }
    if (!resume.isEmpty()) {
      consumer.resume(resume);
    }
  }

  /** Hands messages to waiting requests, oldest request first; retries before fresh messages. */
  private void serve(long now) {
    while (!waiters.isEmpty()) {
      Waiter w = waiters.peekFirst();
      if (w.future().isDone()) { // cancelled
        waiters.pollFirst();
        continue;
      }
      ConsumerRecord<byte[], byte[]> r = next(now);
      if (r == null) {
        return;
      }
      waiters.pollFirst();
      Message m = new Message(r.topic(), r.partition(), r.offset(), r.key(), r.value(), r.headers());
      if (!w.future().complete(new Delivery(m, this, w.autoAck()))) {
        // cancelled between the check and now: offer it again
        PartitionState s = parts.get(new TopicPartition(r.topic(), r.partition()));
        if (s != null) {
          s.pending.remove(r.offset());
          s.retry.put(r.offset(), r);
        }
      }
    }
  }

  /** The next message to offer, now pending; null if there is none. Partitions take turns. */
  private ConsumerRecord<byte[], byte[]> next(long now) {
    if (parts.isEmpty()) {
      return null;
    }
    List<PartitionState> order = new ArrayList<>(parts.values());
    long deadline = now + settings.ackTimeout().toNanos();
    for (PartitionState s : order) {
      if (!s.retry.isEmpty()) {
        var e = s.retry.pollFirstEntry();
        s.pending.put(e.getKey(), new PartitionState.Pending(e.getValue(), deadline));
        return e.getValue();
      }
    }
    int n = order.size();
    for (int i = 0; i < n; i++) {
      PartitionState s = order.get((nextPartition + i) % n);
      if (!s.fresh.isEmpty() && s.outstanding() < settings.maxPending()) {
        nextPartition = (nextPartition + i + 1) % n;
        ConsumerRecord<byte[], byte[]> r = s.fresh.pollFirst();
        s.pending.put(r.offset(), new PartitionState.Pending(r, deadline));
        return r;
      }
    }
    return null;
  }

  private void expireWaiters(long now) {
    var it = waiters.iterator();
    while (it.hasNext()) {
      Waiter w = it.next();
      if (w.future().isDone()) {
        it.remove();
      } else if (w.deadline() - now <= 0) {
        it.remove();
        String why = parts.isEmpty()
            ? " (this consumer has no partition yet: the group is forming or the broker is unreachable)"
            : "";
        w.future().completeExceptionally(
            new ProxyError(ProxyError.Kind.LONG_POLL_TIMEOUT, "long polling timeout" + why));
      }
    }
  }

  private void applyAck(int partition, long offset) {
    PartitionState s = parts.get(new TopicPartition(topic, partition));
    if (s == null) {
      return; // not ours (any more): the group's new owner offers it again
    }
    if (s.pending.remove(offset) == null) {
      s.retry.remove(offset); // acked after its timeout, before it was offered again
    }
  }

  private Map<TopicPartition, OffsetAndMetadata> toCommit(Collection<TopicPartition> which) {
    Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
    for (TopicPartition tp : which) {
      PartitionState s = parts.get(tp);
      if (s != null && s.commitPoint() != s.committed) {
        out.put(tp, new OffsetAndMetadata(s.commitPoint()));
      }
    }
    return out;
  }

  private void commitIfDue(long now, boolean force) {
    if (!force && now - lastCommit < settings.commitInterval().toNanos()) {
      return;
    }
    lastCommit = now;
    Map<TopicPartition, OffsetAndMetadata> offsets = toCommit(parts.keySet());
    if (offsets.isEmpty()) {
      return;
    }
    consumer.commitAsync(
        offsets,
        (done, e) -> {
          if (e != null) {
            if (!commitFailing) { // one line per outage, not one per interval
              commitFailing = true;
              log.warn("commits failing group={} topic={}: {}", group, topic, e.toString());
            }
            return;
          }
          if (commitFailing) {
            commitFailing = false;
            log.info("commits resumed group={} topic={}", group, topic);
          }
          done.forEach(
              (tp, om) -> {
                PartitionState s = parts.get(tp);
                if (s != null) {
                  s.committed = Math.max(s.committed, om.offset());
                }
              });
        });
  }

  private void commitSync(Collection<TopicPartition> which) {
    Map<TopicPartition, OffsetAndMetadata> offsets = toCommit(which);
    if (offsets.isEmpty()) {
      return;
    }
    try {
      despiteWakeup(() -> {
        consumer.commitSync(offsets, CLOSE);
        return null;
      });
    } catch (RuntimeException e) {
      log.warn("commit failed group={} topic={}: {}", group, topic, e.toString());
    }
  }

  private void shutdown() {
    ProxyError err = closingError();
    waiters.forEach(w -> w.future().completeExceptionally(err));
    waiters.clear();
    Runnable c;
    while ((c = commands.poll()) != null) {
      try {
        c.run(); // acks still count; new consume requests see closing below
      } catch (RuntimeException e) {
        log.debug("command after close", e);
      }
    }
    waiters.forEach(w -> w.future().completeExceptionally(err));
    try {
      commitSync(parts.keySet());
      consumer.close(CloseOptions.timeout(CLOSE));
    } catch (RuntimeException e) {
      log.warn("consumer close group={} topic={}: {}", group, topic, e.toString());
    }
    log.info("consumer closed group={} topic={}", group, topic);
    onClosed.accept(this);
  }

  /** Runs on the consumer thread, inside poll(). */
  private final class Rebalance implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
      commitSync(revoked);
      revoked.forEach(parts::remove);
      if (!revoked.isEmpty()) {
        log.info("partitions revoked group={} topic={} partitions={}", group, topic, ids(revoked));
      }
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> lost) {
      lost.forEach(parts::remove);
      log.info("partitions lost group={} topic={} partitions={}", group, topic, ids(lost));
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
      if (assigned.isEmpty()) {
        return;
      }
      Set<TopicPartition> set = Set.copyOf(assigned);
      Map<TopicPartition, OffsetAndMetadata> committed = despiteWakeup(() -> consumer.committed(set));
      Map<TopicPartition, OffsetAndMetadata> initial = new HashMap<>();
      for (TopicPartition tp : assigned) {
        long position = despiteWakeup(() -> consumer.position(tp));
        PartitionState s = new PartitionState(position);
        OffsetAndMetadata c = committed.get(tp);
        if (c == null) {
          // Pixy's behaviour: the group's first consume stores its starting offsets, so that
          // messages produced from then on are never skipped, even if this consumer goes away
          initial.put(tp, new OffsetAndMetadata(position));
        } else {
          s.committed = c.offset();
        }
        parts.put(tp, s);
      }
      if (!initial.isEmpty()) {
        try {
          despiteWakeup(() -> {
            consumer.commitSync(initial, CLOSE);
            return null;
          });
          initial.forEach((tp, om) -> parts.get(tp).committed = om.offset());
        } catch (RuntimeException e) {
          log.warn("initial commit failed group={} topic={}: {}", group, topic, e.toString());
        }
      }
      log.info("partitions assigned group={} topic={} partitions={}", group, topic, ids(assigned));
    }

    private List<Integer> ids(Collection<TopicPartition> tps) {
      return tps.stream().map(TopicPartition::partition).sorted().toList();
    }
  }

  /**
   * Runs a blocking consumer call, again if a command's {@link KafkaConsumer#wakeup()} interrupted
   * it (a wakeup is used up by the exception it causes).
   */
  private static <T> T despiteWakeup(Supplier<T> call) {
    for (int attempt = 0; ; attempt++) {
      try {
        return call.get();
      } catch (WakeupException e) {
        if (attempt >= 10) {
          throw e;
        }
      }
    }
  }
}
