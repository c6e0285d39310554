package io.kontrol.proxy.consume;

import io.kontrol.proxy.ProxyError;
import io.kontrol.proxy.cluster.Topics;
import java.io.Closeable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The proxy's consumers: one {@link GroupConsumer} per (group, topic), created on the first request
 * for it and dropped once it closed itself after the subscription timeout.
 */
public final class Consumers implements Closeable {
  /** At most this many (group, topic) consumers at once; each has its own thread and connections. */
  public static final int MAX_CONSUMERS = 256;

  private record Key(String group, String topic) {}

  private final GroupConsumer.Settings settings;
  private final Topics topics;
  private final Duration longPoll;
  private final Map<Key, GroupConsumer> consumers = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private volatile boolean closed;

  public Consumers(GroupConsumer.Settings settings, Topics topics, Duration longPoll) {
    this.settings = settings;
    this.topics = topics;
    this.longPoll = longPoll;
  }

  /**
   * One message of {@code topic} for {@code group}, after acknowledging what {@code ack} names;
   * 404 for an unknown topic, 408 when nothing arrives within the long poll. Cancelling the
   * returned future withdraws the request (a message already handed to it must then be
   * {@link Delivery#failed() failed} by the caller).
   */
  public CompletableFuture<Delivery> consume(String group, String topic, Ack ack) {
    CompletableFuture<Delivery> out = new CompletableFuture<>();
    topics.requireExists(topic).whenComplete((v, t) -> {
      if (t != null) {
        out.completeExceptionally(t);
        return;
      }
      try {
        // a consumer that closed itself (idle) just as the request came: a fresh one, once
        if (!get(group, topic).consume(ack, longPoll, out) && !get(group, topic).consume(ack, longPoll, out)) {
          out.completeExceptionally(new ProxyError(ProxyError.Kind.UNAVAILABLE, "the consumer is closing"));
        }
      } catch (RuntimeException e) {
        out.completeExceptionally(e);
      }
    });
    return out;
  }

  /** Acknowledges one message consumed earlier by {@code group}. */
  public CompletableFuture<Void> ack(String group, String topic, int partition, long offset) {
    return topics.requireExists(topic).thenCompose(v -> get(group, topic).ackNow(partition, offset));
  }

  /** Partitions this proxy's consumer of (group, topic) holds now; empty when it has none. */
  public CompletableFuture<List<Integer>> assignment(String group, String topic) {
    GroupConsumer c = consumers.get(new Key(group, topic));
    return c == null ? CompletableFuture.completedFuture(List.of()) : c.assignment();
  }

  /** Closes this proxy's consumer of (group, topic), if any (before its offsets are set). */
  public void stop(String group, String topic) {
    GroupConsumer c = consumers.get(new Key(group, topic));
    if (c != null) {
      c.close(Duration.ofSeconds(10));
    }
  }

  public int size() {
    return consumers.size();
  }

  private GroupConsumer get(String group, String topic) {
    if (closed) {
      throw new ProxyError(ProxyError.Kind.UNAVAILABLE, "the proxy is shutting down");
    }
    Key k = new Key(group, topic);
    GroupConsumer[] created = new GroupConsumer[1];
    GroupConsumer c =
        consumers.compute(
            k,
            (key, old) -> {
              if (old != null && !old.isClosing()) {
                return old;
              }
              if (consumers.size() >= MAX_CONSUMERS && old == null) {
                throw new ProxyError(ProxyError.Kind.TOO_MANY_REQUESTS,
                    "too many consumers (" + MAX_CONSUMERS + " group/topic pairs) on this proxy");
              }
              created[0] =
                  new GroupConsumer(group, topic, "kontrol-proxy-" + ids.incrementAndGet(), settings,
                      gc -> consumers.remove(key, gc));
              return created[0];
            });
    if (created[0] != null) {
      created[0].start();
    }
    return c;
  }

  @Override
  public void close() {
    closed = true;
    List<GroupConsumer> all = new ArrayList<>(consumers.values());
    // ask all first, then wait: the closes run in parallel, all within one bound
    all.forEach(GroupConsumer::requestClose);
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    for (GroupConsumer c : all) {
      c.awaitClosed(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
    }
  }
}
