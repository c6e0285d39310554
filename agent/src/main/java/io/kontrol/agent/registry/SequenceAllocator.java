package io.kontrol.agent.registry;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.kontrol.agent.group.Group;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Gives each pod id its {@code seq} in a group, unique and dense (0, 1, 2 ...), kept forever: a
 * returning id (a restarted agent, a StatefulSet pod) gets its old seq back.
 *
 * <p>How, without contention: an id's first registration creates its key {@code G/seq/<id>} (a
 * put-if-absent transaction). etcd gives every transaction its own revision, so the create
 * revisions of the seq keys are a total order of first registrations. The id's seq is its rank in
 * that order: the number of seq keys created before its own. Seq keys are never deleted, so a rank
 * never changes; it is then written into the key's value (guarded by the create revision) and read
 * from there ever after. Any number of pods joining at once costs three round trips each and never
 * retries — a compare-and-swap on one counter would make N joiners retry O(N) times each.
 *
 * <p>Operators must not delete {@code G/seq/} keys by hand: ranks of later ids would shift.
 */
public final class SequenceAllocator {
  private final KV kv;
  private final Duration timeout;

  public SequenceAllocator(KV kv, Duration timeout) {
    this.kv = kv;
    this.timeout = timeout;
  }

  /** The seq of {@code id} in {@code group}, allocated if it has none. Blocking, each call bounded. */
  public long seqFor(Group group, String id)
      throws InterruptedException, ExecutionException, TimeoutException {
    ByteSequence seqKey = bytes(group.seqKey(id));
    // 1. create the id's key if absent; else read it
    TxnResponse created =
        kv.txn()
            .If(new Cmp(seqKey, Cmp.Op.EQUAL, CmpTarget.version(0)))
            .Then(Op.put(seqKey, ByteSequence.EMPTY, PutOption.DEFAULT))
            .Else(Op.get(seqKey, GetOption.DEFAULT))
            .commit()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    long createRevision;
    if (created.isSucceeded()) {
      createRevision = created.getHeader().getRevision();
    } else {
      List<KeyValue> kvs = created.getGetResponses().get(0).getKvs();
      if (kvs.isEmpty()) {
        return seqFor(group, id); // deleted in between: start again
      }
      KeyValue mine = kvs.get(0);
      String v = mine.getValue().toString(StandardCharsets.UTF_8).trim();
      if (!v.isEmpty()) {
        return parse(mine, v);
      }
      createRevision = mine.getCreateRevision(); // created, but its rank was never written
    }
    // 2. its rank: seq keys created before it (keys only; countOnly would ignore the filter)
    ByteSequence prefix = bytes(group.prefix() + "/seq/");
    long rank =
        kv.get(
                prefix,
                GetOption.builder()
                    .isPrefix(true)
                    .withKeysOnly(true)
                    .withMaxCreateRevision(createRevision - 1)
                    .build())
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS)
            .getKvs()
            .size();
    // 3. keep it in the key, unless the key was deleted (an etcd that lost its data) meanwhile:
    // then the rank counted keys that are gone, and another id could get it; start again
    boolean kept =
        kv.txn()
            .If(new Cmp(seqKey, Cmp.Op.EQUAL, CmpTarget.createRevision(createRevision)))
            .Then(Op.put(seqKey, bytes(Long.toString(rank)), PutOption.DEFAULT))
            .commit()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS)
            .isSucceeded();
    return kept ? rank : seqFor(group, id);
  }

  private static long parse(KeyValue kv, String s) {
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
