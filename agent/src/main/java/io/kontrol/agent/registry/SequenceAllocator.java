package io.kontrol.agent.registry;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Gives each pod id its {@code seq} in a group: the id's seq key if it has one (a returning id
 * gets its old seq back), else the group counter's value, taken with ONE compare-and-swap
 * transaction that also writes the id's seq key. Two ids never get the same seq: the counter
 * only moves from a revision the winner read, and the id's key is written in the same
 * transaction.
 */
public final class SequenceAllocator {
  private final KV kv;
  private final Duration timeout;

  public SequenceAllocator(KV kv, Duration timeout) {
    this.kv = kv;
    this.timeout = timeout;
  }

  /**
   * The seq of {@code id} in {@code group}, allocated if it has none. Blocking, each etcd call
   * bounded by the timeout.
   */
  public long seqFor(Group group, String id)
      throws InterruptedException, ExecutionException, TimeoutException {
    ByteSequence seqKey = bytes(group.seqKey(id));
    ByteSequence counterKey = bytes(group.counterKey());
    while (true) {
      // one read of both keys at one revision
      TxnResponse read =
          kv.txn()
              .Then(
                  Op.get(seqKey, GetOption.DEFAULT), Op.get(counterKey, GetOption.DEFAULT))
              .commit()
              .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      GetResponse mine = read.getGetResponses().get(0);
      if (!mine.getKvs().isEmpty()) {
        return parse(mine.getKvs().get(0));
      }
      GetResponse counter = read.getGetResponses().get(1);
      long next;
      Cmp counterUnchanged;
      if (counter.getKvs().isEmpty()) {
        next = 0;
        counterUnchanged = new Cmp(counterKey, Cmp.Op.EQUAL, CmpTarget.version(0));
      } else {
        KeyValue c = counter.getKvs().get(0);
        next = parse(c);
        counterUnchanged = new Cmp(counterKey, Cmp.Op.EQUAL, CmpTarget.modRevision(c.getModRevision()));
      }
      TxnResponse cas =
          kv.txn()
              .If(counterUnchanged, new Cmp(seqKey, Cmp.Op.EQUAL, CmpTarget.version(0)))
              .Then(
                  Op.put(counterKey, bytes(Long.toString(next + 1)), PutOption.DEFAULT),
                  Op.put(seqKey, bytes(Long.toString(next)), PutOption.DEFAULT))
              .commit()
              .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (cas.isSucceeded()) {
        return next;
      }
      // lost the race: someone moved the counter (or gave this id a seq); read again
    }
  }

  private static long parse(KeyValue kv) {
    String s = kv.getValue().toString(StandardCharsets.UTF_8).trim();
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new IllegalStateException(
          "etcd key " + kv.getKey().toString(StandardCharsets.UTF_8) + " holds \"" + s + "\", not a number");
    }
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }
}
