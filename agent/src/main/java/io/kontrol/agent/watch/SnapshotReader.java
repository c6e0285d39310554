package io.kontrol.agent.watch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.kontrol.agent.group.Group;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reads a group's records and state in one transaction (one revision). */
public final class SnapshotReader {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotReader.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final KV kv;
  private final Duration timeout;

  public SnapshotReader(KV kv, Duration timeout) {
    this.kv = kv;
    this.timeout = timeout;
  }

  public Snapshot read(Group group) throws InterruptedException, ExecutionException, TimeoutException {
    ByteSequence prefix = bytes(group.podsPrefix());
    TxnResponse r =
        kv.txn()
            .Then(
                Op.get(prefix, GetOption.builder().isPrefix(true).build()),
                Op.get(bytes(group.stateKey()), GetOption.DEFAULT))
            .commit()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    GetResponse pods = r.getGetResponses().get(0);
    GetResponse state = r.getGetResponses().get(1);
    List<Snapshot.Pod> list = new ArrayList<>(pods.getKvs().size());
    for (KeyValue kv : pods.getKvs()) {
      String key = kv.getKey().toString(StandardCharsets.UTF_8);
      String json = kv.getValue().toString(StandardCharsets.UTF_8);
      String id = key.substring(group.podsPrefix().length());
      try {
        JsonNode node = JSON.readTree(json);
        list.add(new Snapshot.Pod(id, node.path("seq").asLong(Long.MAX_VALUE), json));
      } catch (Exception e) {
        LOG.warn("record skipped group={} pod={} reason=not JSON", group, id);
      }
    }
    list.sort(Comparator.comparingLong(Snapshot.Pod::seq).thenComparing(Snapshot.Pod::id));
    Optional<String> st =
        state.getKvs().isEmpty()
            ? Optional.empty()
            : Optional.of(state.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8));
    return new Snapshot(list, st, r.getHeader().getRevision());
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }
}
