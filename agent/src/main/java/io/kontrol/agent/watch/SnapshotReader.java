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

/**
 * Reads a group's records, state, members and configuration in one transaction (one revision), or
 * only its state, members and configuration around records a {@link GroupView} keeps.
 */
public final class SnapshotReader {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotReader.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final KV kv;
  private final Duration timeout;

  public SnapshotReader(KV kv, Duration timeout) {
    this.kv = kv;
    this.timeout = timeout;
  }

  /** The whole group: its records, state, members and configuration, in one transaction. */
  public Snapshot read(Group group) throws InterruptedException, ExecutionException, TimeoutException {
    TxnResponse r =
        kv.txn()
            .Then(
                Op.get(bytes(group.stateKey()), GetOption.DEFAULT),
                Op.get(bytes(group.membersKey()), GetOption.DEFAULT),
                Op.get(bytes(group.configKey()), GetOption.DEFAULT),
                Op.get(bytes(group.podsPrefix()), GetOption.builder().isPrefix(true).build()))
            .commit()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    List<Snapshot.Pod> list = new ArrayList<>(r.getGetResponses().get(3).getKvs().size());
    for (KeyValue kv : r.getGetResponses().get(3).getKvs()) {
      pod(group, kv).ifPresent(list::add);
    }
    list.sort(ORDER);
    return snapshot(group, r, list);
  }

  /**
   * The group's records from {@code pods} (a {@link GroupView}, kept from etcd's events), with its
   * state, members and configuration read now: a transaction of three keys, whatever the group's
   * size.
   *
   * @param podsBySeq the records, ordered by {@link #ORDER}
   */
  public Snapshot read(Group group, List<Snapshot.Pod> podsBySeq)
      throws InterruptedException, ExecutionException, TimeoutException {
    TxnResponse r =
        kv.txn()
            .Then(
                Op.get(bytes(group.stateKey()), GetOption.DEFAULT),
                Op.get(bytes(group.membersKey()), GetOption.DEFAULT),
                Op.get(bytes(group.configKey()), GetOption.DEFAULT))
            .commit()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    return snapshot(group, r, podsBySeq);
  }

  /** The order of {@link Snapshot#pods()}: by seq, then by id. */
  public static final Comparator<Snapshot.Pod> ORDER =
      Comparator.comparingLong(Snapshot.Pod::seq).thenComparing(Snapshot.Pod::id);

  /**
   * One record of {@code group} as stored, or empty (and one warning) when it is not JSON. A record
   * without a seq sorts last.
   */
  public static Optional<Snapshot.Pod> pod(Group group, KeyValue kv) {
    String id = kv.getKey().toString(StandardCharsets.UTF_8).substring(group.podsPrefix().length());
    String json = kv.getValue().toString(StandardCharsets.UTF_8);
    try {
      JsonNode node = JSON.readTree(json);
      return Optional.of(new Snapshot.Pod(id, node.path("seq").asLong(Long.MAX_VALUE), json));
    } catch (Exception e) {
      LOG.warn("record skipped group={} pod={} reason=not JSON", group, id);
      return Optional.empty();
    }
  }

  /** The state, members and configuration from the first three answers of {@code r}. */
  private static Snapshot snapshot(Group group, TxnResponse r, List<Snapshot.Pod> podsBySeq) {
    GetResponse state = r.getGetResponses().get(0);
    Optional<String> st =
        state.getKvs().isEmpty()
            ? Optional.empty()
            : Optional.of(state.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8));
    List<String> members = new ArrayList<>();
    GetResponse m = r.getGetResponses().get(1);
    if (!m.getKvs().isEmpty()) {
      try {
        JSON.readTree(m.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8)).forEach(n -> members.add(n.asText()));
      } catch (Exception e) {
        LOG.warn("{} skipped group={} reason=not a JSON array", group.membersKey(), group);
      }
    }
    GetResponse config = r.getGetResponses().get(2);
    Optional<String> cfg = Optional.empty();
    long cfgRevision = 0;
    if (!config.getKvs().isEmpty()) {
      cfg = Optional.of(config.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8));
      cfgRevision = config.getKvs().get(0).getModRevision();
    }
    return new Snapshot(podsBySeq, st, r.getHeader().getRevision(), members, cfg, cfgRevision);
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }
}
