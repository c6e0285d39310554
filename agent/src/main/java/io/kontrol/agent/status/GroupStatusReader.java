package io.kontrol.agent.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.lease.LeaseKeeper;
import io.kontrol.agent.rpc.PeerClient;
import io.kontrol.agent.rpc.PeerException;
import io.kontrol.agent.rpc.v1.StatusReply;
import io.kontrol.agent.watch.Snapshot;
import io.kontrol.agent.watch.SnapshotReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads a group for {@code kontrol status --group}: its records, state, leader and the records'
 * leases from etcd, then asks every member for its status through the peer API, all at once.
 */
public final class GroupStatusReader {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** etcd did not answer within the timeout. */
  public static final class EtcdUnreachable extends Exception {
    private static final long serialVersionUID = 1L;

    EtcdUnreachable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Nothing at all under the group's prefix. */
  public static final class NoSuchGroup extends Exception {
    private static final long serialVersionUID = 1L;

    NoSuchGroup(String message) {
      super(message);
    }
  }

  private final Client etcd;
  private final PeerClient peers;
  private final int peerPort;
  private final Duration timeout;
  private final LongClock clock;

  /** Wall clock in millis (injected for tests). */
  @FunctionalInterface
  public interface LongClock {
    long millis();
  }

  public GroupStatusReader(Client etcd, PeerClient peers, int peerPort, Duration timeout) {
    this(etcd, peers, peerPort, timeout, System::currentTimeMillis);
  }

  GroupStatusReader(Client etcd, PeerClient peers, int peerPort, Duration timeout, LongClock clock) {
    this.etcd = etcd;
    this.peers = peers;
    this.peerPort = peerPort;
    this.timeout = timeout;
    this.clock = clock;
  }

  public GroupStatus read(Group g) throws EtcdUnreachable, NoSuchGroup, InterruptedException {
    Snapshot snap;
    Optional<String> leader;
    Map<String, Long> leaseLeft = new HashMap<>();
    String health;
    try {
      snap = new SnapshotReader(etcd.getKVClient(), timeout).read(g);
      List<KeyValue> leaders =
          etcd.getKVClient()
              .get(
                  bytes(g.leaderKey() + "/"),
                  GetOption.builder()
                      .isPrefix(true)
                      .withSortField(GetOption.SortTarget.CREATE)
                      .withSortOrder(GetOption.SortOrder.ASCEND)
                      .withLimit(1)
                      .build())
              .get(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .getKvs();
      leader = leaders.isEmpty() ? Optional.empty() : Optional.of(leaders.get(0).getValue().toString(StandardCharsets.UTF_8));
      if (snap.pods().isEmpty() && leader.isEmpty()) {
        long seqs =
            etcd.getKVClient()
                .get(bytes(g.prefix() + "/"), GetOption.builder().isPrefix(true).withCountOnly(true).build())
                .get(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .getCount();
        if (seqs == 0) {
          throw new NoSuchGroup("group " + g + " does not exist: nothing under " + g.prefix() + "/");
        }
      }
      for (KeyValue kv :
          etcd.getKVClient()
              .get(bytes(g.podsPrefix()), GetOption.builder().isPrefix(true).withKeysOnly(true).build())
              .get(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .getKvs()) {
        String id = kv.getKey().toString(StandardCharsets.UTF_8).substring(g.podsPrefix().length());
        long ttl =
            kv.getLease() == 0
                ? -1
                : etcd.getLeaseClient().timeToLive(kv.getLease(), io.etcd.jetcd.options.LeaseOption.DEFAULT)
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS)
                    .getTTL();
        leaseLeft.put(id, ttl);
      }
      int members =
          etcd.getClusterClient().listMember().get(timeout.toMillis(), TimeUnit.MILLISECONDS).getMembers().size();
      health = "ok, " + members + (members == 1 ? " member" : " members");
    } catch (ExecutionException | TimeoutException e) {
      throw new EtcdUnreachable("etcd did not answer within " + timeout.toMillis() + " ms: " + LeaseKeeper.brief(e), e);
    }

    // every member's peer API, at once
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.max(1, Math.min(16, snap.pods().size())),
            r -> {
              Thread t = new Thread(r, "kontrol-status-peer");
              t.setDaemon(true);
              return t;
            });
    Map<String, CompletableFuture<Object>> replies = new HashMap<>();
    Map<String, JsonNode> records = new HashMap<>();
    try {
      for (Snapshot.Pod p : snap.pods()) {
        JsonNode rec;
        try {
          rec = JSON.readTree(p.json());
        } catch (Exception e) {
          rec = JSON.createObjectNode();
        }
        records.put(p.id(), rec);
        String ip = rec.path("ip").asText("");
        replies.put(
            p.id(),
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return peers.status(ip, peerPort, timeout);
                  } catch (PeerException e) {
                    return e.getMessage();
                  }
                },
                pool));
      }
      Map<String, Object> answers = new HashMap<>();
      for (Map.Entry<String, CompletableFuture<Object>> e : replies.entrySet()) {
        try {
          answers.put(e.getKey(), e.getValue().get(timeout.toMillis() + 2000, TimeUnit.MILLISECONDS));
        } catch (ExecutionException | TimeoutException x) {
          answers.put(e.getKey(), "no answer: " + LeaseKeeper.brief(x));
        }
      }
      return assemble(g, snap, leader, health, leaseLeft, records, answers);
    } finally {
      pool.shutdownNow();
    }
  }

  private GroupStatus assemble(
      Group g,
      Snapshot snap,
      Optional<String> leader,
      String health,
      Map<String, Long> leaseLeft,
      Map<String, JsonNode> records,
      Map<String, Object> answers) {
    List<String> problems = new ArrayList<>();
    if (snap.pods().isEmpty()) {
      problems.add("no live member");
    }
    if (leader.isEmpty()) {
      problems.add("no leader");
    }
    // has the leader's last pass run ok on the current digest?
    Optional<Boolean> converged = Optional.empty();
    Optional<String> lastCallback = Optional.empty();
    if (leader.isPresent() && answers.get(leader.get()) instanceof StatusReply lr) {
      boolean ok = lr.getLastCallbackResult().isEmpty() || lr.getLastCallbackResult().equals("ok");
      converged = Optional.of(lr.getLastDigest().equals(snap.md5()) && ok);
      if (lr.getLastCallbackUnixMs() > 0) {
        long age = Math.max(0, (clock.millis() - lr.getLastCallbackUnixMs()) / 1000);
        lastCallback = Optional.of(age + "s ago, " + lr.getLastCallbackResult());
      }
    } else if (leader.isPresent() && !records.containsKey(leader.get())) {
      problems.add("the leader " + leader.get() + " has no record in the group");
    }
    List<GroupStatus.Member> members = new ArrayList<>();
    for (Snapshot.Pod p : snap.pods()) {
      JsonNode rec = records.get(p.id());
      Object answer = answers.get(p.id());
      boolean isLeader = leader.isPresent() && leader.get().equals(p.id());
      Optional<String> configError =
          rec.path("payload").hasNonNull("config_error")
              ? Optional.of(rec.path("payload").get("config_error").asText())
              : Optional.empty();
      String state = answer instanceof StatusReply r ? r.getAutomatonState() : "";
      Optional<String> peerError = answer instanceof StatusReply ? Optional.empty() : Optional.of(String.valueOf(answer));
      Optional<Boolean> applied = converged.map(c -> c && configError.isEmpty());
      members.add(
          new GroupStatus.Member(
              p.id(),
              rec.path("ip").asText(""),
              p.seq(),
              isLeader,
              state,
              applied,
              leaseLeft.getOrDefault(p.id(), -1L),
              isLeader ? lastCallback : Optional.empty(),
              configError,
              peerError));
      configError.ifPresent(c -> problems.add(p.id() + " reports config_error: " + c));
      peerError.ifPresent(e -> problems.add(p.id() + " does not answer: " + e));
      if (applied.isPresent() && !applied.get() && configError.isEmpty()) {
        problems.add(p.id() + " has not applied the leader's latest configuration");
      }
    }
    if (leader.isPresent() && converged.isEmpty() && records.containsKey(leader.get())) {
      problems.add("the leader " + leader.get() + " does not answer: whether members are up to date is unknown");
    }
    Optional<GroupStatus.Config> config = Optional.empty();
    if (snap.configRevision() > 0) {
      JsonNode state;
      try {
        state = JSON.readTree(snap.state().orElse("{}"));
      } catch (Exception e) {
        state = JSON.createObjectNode();
      }
      long applied = state.path("config_revision").asLong(0);
      String status = applied == snap.configRevision() ? state.path("config_status").asText("applied") : "pending";
      config = Optional.of(new GroupStatus.Config(snap.configRevision(), applied, status));
      if (status.equals("failed") || status.equals("invalid")) {
        problems.add("configuration rev " + snap.configRevision() + " " + status + ": " + state.path("config_failed"));
      }
    }
    return new GroupStatus(g.toString(), snap.md5(), leader, health, members, problems, config);
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }
}
