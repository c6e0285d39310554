package io.kontrol.agent.election;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.election.LeaderKey;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import io.kontrol.agent.group.Group;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One term of leadership of a group: the leader key this agent won (attached to its election
 * lease). Its writes are <em>fenced</em>: they succeed only while that very key still exists with
 * the create revision it had when won. A deposed leader — its lease expired, its key deleted, a
 * successor elected — can never overwrite what the successor wrote.
 */
public final class Leadership {
  private final Group group;
  private final LeaderKey key;
  private final KV kv;

  Leadership(Group group, LeaderKey key, KV kv) {
    this.group = group;
    this.key = key;
    this.kv = kv;
  }

  public Group group() {
    return group;
  }

  /** The leader key, {@code <group>/leader/<lease hex>}. */
  public String key() {
    return key.getKey().toString(StandardCharsets.UTF_8);
  }

  public long leaseId() {
    return key.getLease();
  }

  public long revision() {
    return key.getRevision();
  }

  LeaderKey leaderKey() {
    return key;
  }

  /**
   * Puts {@code value} at {@code target} only if this term's leader key is still there, unchanged.
   *
   * @return true when written; false when this agent is no longer the leader
   */
  public boolean writeFenced(String target, String value, Duration timeout)
      throws InterruptedException, ExecutionException, TimeoutException {
    return writeFenced(Map.of(target, value), timeout);
  }

  /** Puts every key → value of {@code puts} in one transaction, fenced as above. */
  public boolean writeFenced(Map<String, String> puts, Duration timeout)
      throws InterruptedException, ExecutionException, TimeoutException {
    Op[] ops =
        puts.entrySet().stream()
            .map(e -> Op.put(
                ByteSequence.from(e.getKey(), StandardCharsets.UTF_8),
                ByteSequence.from(e.getValue(), StandardCharsets.UTF_8),
                PutOption.DEFAULT))
            .toArray(Op[]::new);
    TxnResponse r =
        kv.txn()
            .If(new Cmp(key.getKey(), Cmp.Op.EQUAL, CmpTarget.createRevision(key.getRevision())))
            .Then(ops)
            .commit()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    return r.isSucceeded();
  }

  @Override
  public String toString() {
    return "Leadership{group=" + group + ", key=" + key() + ", rev=" + key.getRevision() + "}";
  }
}
