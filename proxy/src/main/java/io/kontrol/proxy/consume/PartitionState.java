package io.kontrol.proxy.consume;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * One assigned partition's messages, owned by its {@link GroupConsumer}'s thread: fetched but not
 * yet offered ({@code fresh}), offered and waiting for an ack ({@code pending}, with the time by
 * which it must come), and offered again ({@code retry}: its ack timed out or its client went away).
 * The offset to commit is the lowest one still in any of the three, so a gap of acknowledged
 * messages above an unacknowledged one is never committed past.
 */
final class PartitionState {
  /** A message handed out, waiting for its ack until {@code deadline} (System.nanoTime()). */
  record Pending(ConsumerRecord<byte[], byte[]> record, long deadline) {}

  final ArrayDeque<ConsumerRecord<byte[], byte[]>> fresh = new ArrayDeque<>();
  final TreeMap<Long, Pending> pending = new TreeMap<>();
  final TreeMap<Long, ConsumerRecord<byte[], byte[]>> retry = new TreeMap<>();
  /** The offset after the last record fetched (the position at assignment before any). */
  long position;
  /** The offset last committed, -1 before the first commit. */
  long committed = -1;
  boolean paused;

  PartitionState(long position) {
    this.position = position;
  }

  void add(ConsumerRecord<byte[], byte[]> r) {
    fresh.add(r);
    position = r.offset() + 1;
  }

  /** The offset to commit: every message below it has been acknowledged. */
  long commitPoint() {
    long p = position;
    if (!fresh.isEmpty()) {
      p = Math.min(p, fresh.peekFirst().offset());
    }
    if (!pending.isEmpty()) {
      p = Math.min(p, pending.firstKey());
    }
    if (!retry.isEmpty()) {
      p = Math.min(p, retry.firstKey());
    }
    return p;
  }

  /** Unacknowledged messages handed out or due again. */
  int outstanding() {
    return pending.size() + retry.size();
  }

  /** Moves every pending message whose deadline has passed to {@code retry}; returns how many. */
  int expire(long now) {
    int n = 0;
    var it = pending.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Long, Pending> e = it.next();
      if (e.getValue().deadline() - now <= 0) {
        retry.put(e.getKey(), e.getValue().record());
        it.remove();
        n++;
      }
    }
    return n;
  }
}
