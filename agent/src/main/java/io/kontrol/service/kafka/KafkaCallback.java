package io.kontrol.service.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import io.kontrol.service.Fanout;
import io.kontrol.service.ServiceCallback;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The Kafka group leader's callback ({@code kontrol callback kafka}): ids, quorum and formation.
 *
 * <ol>
 *   <li>Cluster id: from {@code $STATE}; else the one every formatted volume of the group agrees
 *       on (a state lost with etcd); else a new one. Kept in the state.
 *   <li>Node ids: a formatted volume's node.id, else the pod's seq. Two live pods claiming one id:
 *       the one whose volume holds it keeps it, the other is refused.
 *   <li>Roles: node.id below the controller count Q ({@code kafka.unity3d.com/controllers}: 1, 3
 *       or 5; default 3) is broker+controller, the others brokers.
 *   <li>Formation: while no volume of the group is formatted, the controllers present are the
 *       initial voters; each gets a fresh directory id, and they all get the same {@code
 *       --initial-controllers} string. Later volumes join with {@code --no-initial-controllers}.
 *   <li>Every pod whose input changed (or that restarted, or reports a config_error, or has not
 *       started) gets {@code configure}, in parallel; any that does not answer fails the run.
 *   <li>Voters, one change at a time: a formatted controller that is not a voter with its own
 *       directory first has its stale entry (same id, old directory: a lost volume) removed, then
 *       is added once it has caught up as an observer.
 * </ol>
 */
public final class KafkaCallback implements ServiceCallback {

  public static final String CONTROLLERS_ANNOTATION = "kafka.unity3d.com/controllers";
  public static final int DEFAULT_CONTROLLERS = 3;

  /** An observer this close to the leader's log end may become a voter. */
  static final long CAUGHT_UP_RECORDS = 1000;

  private static final ObjectMapper JSON = new ObjectMapper();

  /** One pod of the group as its record shows it. */
  record Member(
      String id,
      String ip,
      int seq,
      String nonce,
      String host,
      boolean formatted,
      String clusterId,
      Integer volumeNodeId,
      String directoryId,
      String initialControllers,
      boolean started,
      String configError) {}

  private final Fanout fanout;
  private final Quorum quorum;
  private final int q;
  private final Consumer<String> log;
  private final Duration catchUp;
  private final Duration poll;

  /**
   * @param fanout sends the pods their {@code configure}
   * @param quorum the KRaft quorum
   * @param q the controller count ({@link #controllers})
   */
  public KafkaCallback(Fanout fanout, Quorum quorum, int q, Consumer<String> log) {
    this(fanout, quorum, q, log, Duration.ofSeconds(90), Duration.ofSeconds(1));
  }

  KafkaCallback(Fanout fanout, Quorum quorum, int q, Consumer<String> log, Duration catchUp, Duration poll) {
    this.fanout = Objects.requireNonNull(fanout, "fanout");
    this.quorum = Objects.requireNonNull(quorum, "quorum");
    this.q = q;
    this.log = Objects.requireNonNull(log, "log");
    this.catchUp = catchUp;
    this.poll = poll;
  }

  /** Q from the leader's annotations. */
  public static int controllers(Map<String, String> annotations) throws CallbackException {
    String v = annotations.get(CONTROLLERS_ANNOTATION);
    if (v == null || v.isBlank()) {
      return DEFAULT_CONTROLLERS;
    }
    return switch (v.strip()) {
      case "1" -> 1;
      case "3" -> 3;
      case "5" -> 5;
      default -> throw CallbackException.badInput(
          "annotation " + CONTROLLERS_ANNOTATION + " is '" + v + "': expected 1, 3 or 5");
    };
  }

  @Override
  public String run(CallbackInput group) throws CallbackException {
    List<Member> all = members(group.records());
    JsonNode prev = group.previous();
    List<Member> ready = new ArrayList<>();
    for (Member m : all) {
      if (m.host() == null || m.host().isEmpty()) {
        log.accept("pod " + m.id() + " has not published its host name yet (lifecycle setup): skipped this run");
      } else {
        ready.add(m);
      }
    }
    if (ready.isEmpty()) {
      throw CallbackException.failed("no pod of the group has published its host name yet");
    }

    String clusterId = clusterId(prev, ready);

    // node ids: the volume's when formatted for this cluster, else the seq; a claim on an id
    // already held by a formatted volume is refused
    Map<String, String> refused = new TreeMap<>();
    Map<String, Integer> nodeIds = new LinkedHashMap<>();
    Map<Integer, Member> holder = new TreeMap<>();
    List<Member> bySeqFormattedFirst = new ArrayList<>(ready);
    bySeqFormattedFirst.sort(Comparator.comparing((Member m) -> !m.formatted()).thenComparingInt(Member::seq));
    for (Member m : bySeqFormattedFirst) {
      if (m.formatted() && !clusterId.equals(m.clusterId())) {
        // the pod refuses such a volume itself, with the details
        nodeIds.put(m.id(), m.volumeNodeId());
        continue;
      }
      int id = m.formatted() ? m.volumeNodeId() : m.seq();
      Member other = holder.get(id);
      if (other != null) {
        refused.put(
            m.id(),
            "node.id " + id + " is held by pod " + other.id() + (other.formatted() ? " (its volume)" : " (its seq)")
                + ": this pod does not start; nothing is reformatted");
        nodeIds.put(m.id(), id);
        continue;
      }
      holder.put(id, m);
      nodeIds.put(m.id(), id);
    }

    boolean formed =
        prev.path("formed").asBoolean(false)
            || ready.stream().anyMatch(m -> m.formatted() && clusterId.equals(m.clusterId()));
    String initial = prev.path("initial_controllers").asText(null);
    if (initial == null) {
      initial =
          ready.stream()
              .filter(m -> m.formatted() && clusterId.equals(m.clusterId()) && m.initialControllers() != null)
              .map(Member::initialControllers)
              .findFirst()
              .orElse(null);
    }
    List<Member> controllers =
        ready.stream()
            .filter(m -> !refused.containsKey(m.id()) && nodeIds.get(m.id()) < q && (!m.formatted() || clusterId.equals(m.clusterId())))
            .sorted(Comparator.comparingInt(m -> nodeIds.get(m.id())))
            .toList();
    if (controllers.isEmpty()) {
      throw CallbackException.failed(
          "no controller yet (no pod with node.id below " + q + "): the brokers wait for one");
    }
    String formingWith = null;
    if (!formed && initial == null) {
      formingWith =
          controllers.stream()
              .map(m -> nodeIds.get(m.id()) + "@" + m.host() + ":" + BrokerConfig.CONTROLLER_PORT + ":" + quorum.randomUuid())
              .collect(Collectors.joining(","));
      initial = formingWith;
      log.accept("forming cluster " + clusterId + " with initial controllers " + initial);
    }
    List<String> bootstrap =
        controllers.stream().map(m -> m.host() + ":" + BrokerConfig.CONTROLLER_PORT).sorted().toList();

    // inputs, and who needs one
    JsonNode before = prev.path("members");
    ObjectNode seen = JSON.createObjectNode();
    Map<Member, String> targets = new LinkedHashMap<>();
    for (Member m : ready) {
      int id = nodeIds.get(m.id());
      boolean controller = id < q;
      String initialFor = formed ? null : initial;
      MemberInput in =
          new MemberInput(clusterId, id, m.seq(), controller, bootstrap, initialFor, refused.get(m.id()));
      String input = in.toJson();
      ObjectNode entry = seen.putObject(m.id());
      entry.put("nonce", m.nonce());
      entry.put("input", input);
      JsonNode was = before.path(m.id());
      boolean same = input.equals(was.path("input").asText(null)) && m.nonce().equals(was.path("nonce").asText(null));
      boolean wanted = m.configError() != null || (!m.started() && !refused.containsKey(m.id()));
      if (!same || wanted) {
        targets.put(m, input);
      }
    }
    if (!targets.isEmpty()) {
      log.accept(
          "configuring " + targets.size() + " of " + ready.size() + " pod(s): "
              + targets.keySet().stream().map(m -> m.id() + " (node.id " + nodeIds.get(m.id()) + ")").collect(Collectors.joining(", ")));
      configureAll(targets);
    } else {
      log.accept("" + ready.size() + " pod(s) already configured");
    }

    if (formed) {
      voters(controllers, nodeIds, bootstrap, clusterId);
    }

    ObjectNode next = JSON.createObjectNode();
    next.put("cluster_id", clusterId);
    next.put("controllers", q);
    // formed once the initial controllers have their configuration (and so their volumes)
    next.put("formed", true);
    if (initial != null) {
      next.put("initial_controllers", initial);
    }
    next.set("members", seen);
    return next.toString();
  }

  /** The voter changes due, one at a time, each waiting for the previous to be in the quorum. */
  private void voters(List<Member> controllers, Map<String, Integer> nodeIds, List<String> bootstrap, String clusterId)
      throws CallbackException {
    for (Member m : controllers) {
      int id = nodeIds.get(m.id());
      if (!m.formatted() || !clusterId.equals(m.clusterId()) || m.directoryId() == null || !m.started()) {
        continue;
      }
      Quorum.View view = describe(bootstrap);
      if (view.isVoter(id, m.directoryId())) {
        continue;
      }
      for (Quorum.Replica stale : view.voters()) {
        if (stale.id() == id && !stale.directoryId().equals(m.directoryId())) {
          if (view.voters().size() < 2) {
            throw CallbackException.failed("controller " + id + ": its old voter entry is the only voter; not removing it");
          }
          log.accept(
              "controller " + id + " came back with a new volume (directory " + m.directoryId()
                  + "): removing its stale voter entry (directory " + stale.directoryId() + ")");
          try {
            quorum.removeVoter(bootstrap, id, stale.directoryId());
          } catch (IOException e) {
            throw CallbackException.failed("controller " + id + ": " + e.getMessage());
          }
        }
      }
      awaitCaughtUp(bootstrap, id, m.directoryId());
      log.accept("adding controller " + id + " (" + m.host() + ", directory " + m.directoryId() + ") as a voter");
      try {
        quorum.addVoter(bootstrap, id, m.directoryId(), m.host());
      } catch (IOException e) {
        throw CallbackException.failed("controller " + id + ": " + e.getMessage());
      }
      await(bootstrap, v -> v.isVoter(id, m.directoryId()), "controller " + id + " to be a voter");
      log.accept("controller " + id + " is a voter");
    }
  }

  private void awaitCaughtUp(List<String> bootstrap, int id, String dir) throws CallbackException {
    await(
        bootstrap,
        v ->
            v.leaderEndOffset() >= 0
                && v.observers().stream()
                    .anyMatch(o -> o.id() == id && o.directoryId().equals(dir) && o.logEndOffset() >= v.leaderEndOffset() - CAUGHT_UP_RECORDS),
        "controller " + id + " to catch up as an observer");
  }

  private void await(List<String> bootstrap, java.util.function.Predicate<Quorum.View> done, String what)
      throws CallbackException {
    long deadline = System.nanoTime() + catchUp.toNanos();
    String last = "";
    while (true) {
      try {
        if (done.test(quorum.describe(bootstrap))) {
          return;
        }
      } catch (IOException e) {
        last = ": " + e.getMessage();
      }
      if (System.nanoTime() > deadline) {
        throw CallbackException.failed("waited " + catchUp.toSeconds() + " s for " + what + last);
      }
      try {
        TimeUnit.NANOSECONDS.sleep(poll.toNanos());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw CallbackException.failed("interrupted while waiting for " + what);
      }
    }
  }

  private Quorum.View describe(List<String> bootstrap) throws CallbackException {
    try {
      return quorum.describe(bootstrap);
    } catch (IOException e) {
      throw CallbackException.failed("cannot describe the quorum through " + bootstrap + ": " + e.getMessage());
    }
  }

  private String clusterId(JsonNode prev, List<Member> ready) {
    String kept = prev.path("cluster_id").asText("");
    if (!kept.isEmpty()) {
      return kept;
    }
    Map<String, List<Member>> onVolumes =
        ready.stream().filter(m -> m.formatted() && m.clusterId() != null).collect(Collectors.groupingBy(Member::clusterId, TreeMap::new, Collectors.toList()));
    if (!onVolumes.isEmpty()) {
      Optional<Map.Entry<String, List<Member>>> most =
          onVolumes.entrySet().stream()
              .max(Comparator.comparingInt((Map.Entry<String, List<Member>> e) -> e.getValue().size())
                  .thenComparing(e -> -e.getValue().stream().mapToInt(Member::seq).min().orElse(0)));
      String id = most.get().getKey();
      log.accept(
          "no cluster id in the group state: adopting " + id + " from the volumes of "
              + most.get().getValue().stream().map(Member::id).toList()
              + (onVolumes.size() > 1 ? " (other volumes hold " + onVolumes.keySet() + ": those pods are refused)" : ""));
      return id;
    }
    String id = quorum.randomUuid();
    log.accept("new cluster id " + id);
    return id;
  }

  private void configureAll(Map<Member, String> targets) throws CallbackException {
    Map<String, String> byIp = new LinkedHashMap<>();
    targets.forEach((m, input) -> byIp.put(m.ip(), input));
    fanout.configure(byIp);
  }

  private static List<Member> members(List<JsonNode> records) throws CallbackException {
    List<Member> out = new ArrayList<>();
    for (JsonNode r : records) {
      String ip = CallbackInput.ip(r);
      if (!r.path("seq").isInt()) {
        throw CallbackException.badInput("a pod record has no seq: " + r);
      }
      JsonNode p = CallbackInput.payload(r);
      JsonNode k = p.path("kafka");
      out.add(
          new Member(
              r.path("id").asText(ip),
              ip,
              r.get("seq").asInt(),
              r.path("nonce").asText(""),
              k.path("host").asText(null),
              k.path("formatted").asBoolean(false),
              k.path("cluster_id").asText(null),
              k.path("node_id").isInt() ? k.get("node_id").asInt() : null,
              k.path("directory_id").asText(null),
              k.path("initial_controllers").asText(null),
              k.path("started").asBoolean(false),
              p.path("config_error").asText(null)));
    }
    return out;
  }

}
