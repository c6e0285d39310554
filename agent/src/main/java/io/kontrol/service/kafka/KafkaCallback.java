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
import java.util.function.Function;
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
 *       --initial-controllers} string. With fewer than Q of them present the leader first waits
 *       (at most {@link FormationWait#bound}, counted from its first such run) for the others,
 *       since pods started together register a few seconds apart: forming with all Q at once
 *       saves a voter change per missing one. Later volumes join with {@code
 *       --no-initial-controllers}.
 *   <li>Every pod whose input changed (or that restarted, or has not
 *       started) gets {@code configure}, in parallel; any that does not answer fails the run.
 *   <li>Voters, one change at a time: a formatted controller that is not a voter with its own
 *       directory first has its stale entry (same id, old directory: a lost volume) removed, then
 *       is added once it has caught up as an observer.
 *   <li>Rolling restart of the pods whose broker waits for a restart ({@code
 *       kafka.restart_pending}: read-only keys of the overrides changed): one at a time, brokers
 *       before controllers, the active controller last; each only when {@link RollChecks#whyNot}
 *       allows it (Strimzi's checks), refused ones retried with a doubling back-off and the
 *       reason logged and published; each sent {@code restart} and waited for until its broker
 *       is listed again and back in the ISR of every partition it hosts.
 * </ol>
 */
public final class KafkaCallback implements ServiceCallback {

  public static final String CONTROLLERS_ANNOTATION = "kafka.unity3d.com/controllers";
  public static final int DEFAULT_CONTROLLERS = 3;

  /** An observer this close to the leader's log end may become a voter. */
  static final long CAUGHT_UP_RECORDS = 1000;

  /** The lifecycle state that restarts a pod's broker. */
  public static final String RESTART = "restart";

  /** Refusals of the roll gate for one broker before the run fails (and the agent retries it). */
  static final int ROLL_REFUSALS = 10;

  /** The longest back-off between two roll-gate checks, in poll intervals. */
  static final int ROLL_BACKOFF_MAX = 32;

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
      String configError,
      List<String> restartPending) {}

  private final Fanout fanout;
  private final Quorum quorum;
  private final int q;
  private final Consumer<String> log;
  private final Duration catchUp;
  private final Duration poll;
  private final Function<String, RollChecks> gates;
  private final Consumer<String> rollStatus;
  private final FormationWait formation;

  /**
   * How long a leader that would form the cluster with fewer than Q controllers waits for the
   * others, and since when it waits: kept by the caller across runs (the run fails while it waits,
   * and the agent runs it again on the next change or after its back-off).
   */
  public interface FormationWait {
    /** The longest wait; zero forms at once with the controllers present. */
    Duration bound();

    /** When the wait began, in epoch milliseconds: the kept time, else {@code nowMs}, kept. */
    long since(long nowMs);

    /** The cluster is forming: the wait is over. */
    void done();

    /** No wait: the cluster forms with the controllers present at the first run. */
    FormationWait NONE =
        new FormationWait() {
          @Override
          public Duration bound() {
            return Duration.ZERO;
          }

          @Override
          public long since(long nowMs) {
            return nowMs;
          }

          @Override
          public void done() {}
        };
  }

  /**
   * @param fanout sends the pods their {@code configure}
   * @param quorum the KRaft quorum
   * @param q the controller count ({@link #controllers})
   */
  /**
   * @param gates the roll checks through the brokers at a {@code host:9092,...} bootstrap
   * @param rollStatus why the roll waits (published in the leader's payload), null once it does not
   */
  public KafkaCallback(
      Fanout fanout,
      Quorum quorum,
      int q,
      Consumer<String> log,
      Function<String, RollChecks> gates,
      Consumer<String> rollStatus,
      FormationWait formation) {
    this(fanout, quorum, q, log, Duration.ofSeconds(90), Duration.ofSeconds(1), gates, rollStatus, formation);
  }

  KafkaCallback(
      Fanout fanout,
      Quorum quorum,
      int q,
      Consumer<String> log,
      Duration catchUp,
      Duration poll,
      Function<String, RollChecks> gates,
      Consumer<String> rollStatus,
      FormationWait formation) {
    this.fanout = Objects.requireNonNull(fanout, "fanout");
    this.quorum = Objects.requireNonNull(quorum, "quorum");
    this.q = q;
    this.log = Objects.requireNonNull(log, "log");
    this.catchUp = catchUp;
    this.poll = poll;
    this.gates = Objects.requireNonNull(gates, "gates");
    this.rollStatus = Objects.requireNonNull(rollStatus, "rollStatus");
    this.formation = Objects.requireNonNull(formation, "formation");
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
      awaitControllers(all, controllers, nodeIds);
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
      boolean same = m.nonce().equals(was.path("nonce").asText(null)) && sameInput(m, input, was.path("input").asText(null));
      // not for a config_error: the same input cannot mend it (bad override lines are mended by
      // the annotation, whose change re-runs configure in the pod itself; a refused volume by
      // another volume, i.e. a restarted pod with a new nonce); sending it again on every run
      // only costs every pod a configure; nor for a volume of another cluster, which the pod
      // refuses again in the same way until it comes back with another volume (a new nonce)
      boolean foreign = m.formatted() && !clusterId.equals(m.clusterId());
      boolean wanted = !m.started() && !refused.containsKey(m.id()) && !foreign;
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
      roll(ready, nodeIds, refused, bootstrap, clusterId);
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

  /**
   * Whether {@code input} is what the member was last sent: the same, or — for a volume formatted
   * since — the same but for the {@code initial_controllers} of the formation, which only an
   * empty volume uses (so the run after formation does not configure every pod again).
   */
  private static boolean sameInput(Member m, String input, String was) {
    if (was == null) {
      return false;
    }
    if (input.equals(was)) {
      return true;
    }
    if (!m.formatted()) {
      return false;
    }
    try {
      return input.equals(MemberInput.parse(was).afterFormation().toJson());
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * Returns when the cluster may form with {@code controllers}: all Q are there, or the leader
   * has waited {@link FormationWait#bound} for the others; fails the run (which is run again)
   * while it waits.
   */
  private void awaitControllers(List<Member> all, List<Member> controllers, Map<String, Integer> nodeIds)
      throws CallbackException {
    String present =
        controllers.stream().map(m -> nodeIds.get(m.id()) + " (" + m.id() + ")").collect(Collectors.joining(", "));
    if (controllers.size() >= q) {
      formation.done();
      return;
    }
    long now = System.currentTimeMillis();
    long waited = Math.max(0, now - formation.since(now));
    long left = formation.bound().toMillis() - waited;
    if (left > 0) {
      throw CallbackException.failed(
          "forming waits for " + q + " controllers, " + controllers.size() + " present (" + present + ", "
              + all.size() + " pod(s) in the group): " + (left + 999) / 1000 + " s more at most, then it forms with those present");
    }
    formation.done();
    log.accept(
        "forming with " + controllers.size() + " of " + q + " controllers (" + present + ") after waiting "
            + waited / 1000 + " s for the others; they join as observers and become voters one at a time");
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

  /**
   * Restarts, one at a time and only when the gate allows it, every started pod whose broker
   * waits for a restart: brokers first, then controllers, the active controller last.
   */
  private void roll(List<Member> ready, Map<String, Integer> nodeIds, Map<String, String> refused, List<String> bootstrap, String clusterId)
      throws CallbackException {
    List<Member> due =
        ready.stream()
            .filter(m -> m.started() && !refused.containsKey(m.id()) && !m.restartPending().isEmpty())
            .filter(m -> m.formatted() && clusterId.equals(m.clusterId()))
            .toList();
    if (due.isEmpty()) {
      rollStatus.accept(null);
      return;
    }
    int active = describe(bootstrap).leaderId();
    List<Member> order = new ArrayList<>(due);
    order.sort(
        Comparator.comparingInt((Member m) -> nodeIds.get(m.id()) == active ? 2 : nodeIds.get(m.id()) < q ? 1 : 0)
            .thenComparingInt(m -> nodeIds.get(m.id())));
    log.accept(
        "rolling restart of " + order.size() + " broker(s), in this order: "
            + order.stream().map(m -> nodeIds.get(m.id()) + " (" + m.id() + ")").collect(Collectors.joining(", ")));
    String brokers =
        ready.stream().map(m -> m.host() + ":" + BrokerConfig.BROKER_PORT).sorted().collect(Collectors.joining(","));
    try (RollChecks gate = gates.apply(brokers)) {
      for (Member m : order) {
        int id = nodeIds.get(m.id());
        awaitGate(gate, id);
        long t0 = System.nanoTime();
        log.accept("restarting broker " + id + " (" + m.id() + "): it waits for " + m.restartPending());
        fanout.transition(m.ip(), RESTART, "");
        awaitBack(gate, id);
        log.accept("broker " + id + " (" + m.id() + ") is back in every ISR " + (System.nanoTime() - t0) / 1_000_000 + " ms after its restart began");
      }
    }
    rollStatus.accept(null);
    log.accept("rolling restart done");
  }

  /** Waits until stopping {@code id} is safe: the gate is asked again after 1, 2, 4 ... 32 polls. */
  private void awaitGate(RollChecks gate, int id) throws CallbackException {
    long backoff = poll.toNanos();
    String last = null;
    for (int refusals = 0; ; refusals++) {
      String why;
      try {
        why = gate.whyNot(id);
      } catch (IOException e) {
        why = "cannot check the brokers: " + e.getMessage();
      }
      if (why == null) {
        return;
      }
      String reason = "broker " + id + " not restarted yet: " + why;
      if (!reason.equals(last)) {
        log.accept(reason + " (asking again with a back-off)");
        rollStatus.accept(reason);
        last = reason;
      }
      if (refusals + 1 >= ROLL_REFUSALS) {
        throw CallbackException.failed(reason + " (refused " + ROLL_REFUSALS + " times; the roll goes on in the next run)");
      }
      sleep(backoff, "the roll gate");
      backoff = Math.min(backoff * 2, poll.toNanos() * ROLL_BACKOFF_MAX);
    }
  }

  /** Waits (bounded) until the restarted broker is listed again and in the ISR of every partition it hosts. */
  private void awaitBack(RollChecks gate, int id) throws CallbackException {
    long deadline = System.nanoTime() + catchUp.toNanos() * 2;
    String last = "";
    while (true) {
      try {
        if (!gate.brokers().contains(id)) {
          last = "broker " + id + " is not listed (unfenced) yet";
        } else {
          last = gate.outOfSync(id);
          if (last == null) {
            return;
          }
        }
      } catch (IOException e) {
        last = e.getMessage();
      }
      if (System.nanoTime() > deadline) {
        throw CallbackException.failed("waited " + catchUp.toSeconds() * 2 + " s for broker " + id + " to be back after its restart: " + last);
      }
      sleep(poll.toNanos(), "broker " + id + " to be back");
    }
  }

  private static void sleep(long nanos, String what) throws CallbackException {
    try {
      TimeUnit.NANOSECONDS.sleep(nanos);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CallbackException.failed("interrupted while waiting for " + what);
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

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return List.copyOf(out);
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
              p.path("config_error").asText(null),
              texts(k.path("restart_pending"))));
    }
    return out;
  }

}
