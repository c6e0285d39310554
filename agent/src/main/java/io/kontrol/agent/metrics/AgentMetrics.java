package io.kontrol.agent.metrics;

import io.kontrol.agent.group.Group;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The agent's meters, fed by {@link AgentEvents}. Names follow Prometheus' conventions once
 * Micrometer has added its suffixes ({@code kontrol.callback.runs} is scraped as {@code
 * kontrol_callback_runs_total}). Every name has one fixed set of tag keys, and no tag value is a
 * pod id: the values are group names ({@code <namespace>/<app>}), results, gRPC methods and codes,
 * and the automaton's state names.
 *
 * <p>Per-group meters exist from the start for every group the agent knows (the ones it reports
 * to and the one it leads), at 0, so a series never appears out of nowhere.
 */
public final class AgentMetrics implements AgentEvents {

  private final MeterRegistry registry;
  private final AtomicInteger connected = new AtomicInteger();
  private final AtomicLong lastContactMillis = new AtomicLong();
  private final Map<Group, PerGroup> groups = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> states = new ConcurrentHashMap<>();
  private final Map<String, Counter> transitions = new ConcurrentHashMap<>();
  private final Map<List<String>, Counter> requests = new ConcurrentHashMap<>();
  private final Counter renderOk;
  private final Counter renderFailed;

  private final class PerGroup {
    final Group group;
    final AtomicInteger registered = new AtomicInteger();
    final AtomicInteger leader = new AtomicInteger();
    final AtomicInteger members = new AtomicInteger();
    final Counter leaderChanges;
    final Counter groupChanges;
    final Map<CallbackResult, Counter> runs = new ConcurrentHashMap<>();
    final Timer duration;
    volatile String digest;

    PerGroup(Group g) {
      this.group = g;
      Tags t = Tags.of("group", g.toString());
      Gauge.builder("kontrol.registered", registered, AtomicInteger::get)
          .description("1 when this pod's record is in the group, on its live lease")
          .tags(t)
          .register(registry);
      Gauge.builder("kontrol.leader", leader, AtomicInteger::get)
          .description("1 while this agent leads the group")
          .tags(t)
          .register(registry);
      Gauge.builder("kontrol.group.members", members, AtomicInteger::get)
          .description("live records in the group at the leader's last read (0 when not leading)")
          .tags(t)
          .register(registry);
      leaderChanges =
          Counter.builder("kontrol.leader.changes")
              .description("times this agent became or stopped being the group's leader")
              .tags(t)
              .register(registry);
      groupChanges =
          Counter.builder("kontrol.group.changes")
              .description("changes of the group's digest seen by its leader")
              .tags(t)
              .register(registry);
      for (CallbackResult r : CallbackResult.values()) {
        runs.put(
            r,
            Counter.builder("kontrol.callback.runs")
                .description("callback runs by result")
                .tags(t.and("result", r.label()))
                .register(registry));
      }
      duration =
          Timer.builder("kontrol.callback.duration")
              .description("how long callback runs took")
              .tags(t)
              .register(registry);
    }
  }

  /**
   * @param groups the groups the agent reports to or leads: their meters exist from the start
   */
  public AgentMetrics(MeterRegistry registry, String version, List<Group> groups) {
    this.registry = registry;
    Gauge.builder("kontrol.info", () -> 1)
        .description("the agent's version")
        .tags("version", version)
        .register(registry);
    Gauge.builder("kontrol.etcd.connected", connected, AtomicInteger::get)
        .description("1 when the last etcd call of the agent's lease loops succeeded")
        .register(registry);
    Gauge.builder("kontrol.etcd.last.contact.timestamp", lastContactMillis, m -> m.get() / 1000.0)
        .description("when etcd last answered the agent (Unix time; 0 = never)")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("kontrol.failsafe.active", connected, c -> 1 - c.get())
        .description(
            "1 while etcd cannot be reached: the service keeps its last configuration, no"
                + " callback runs")
        .register(registry);
    renderOk = renderCounter("ok");
    renderFailed = renderCounter("failed");
    for (String r : List.of("ok", "ko", "timeout")) {
      transitionCounter(r);
    }
    groups.forEach(this::group);
  }

  /** The registry the meters are in. */
  public MeterRegistry registry() {
    return registry;
  }

  private Counter renderCounter(String result) {
    return Counter.builder("kontrol.render")
        .description("renders whose result reached the agent (config_error set, or cleared)")
        .tags("result", result)
        .register(registry);
  }

  private Counter transitionCounter(String result) {
    return transitions.computeIfAbsent(
        result,
        r ->
            Counter.builder("kontrol.automaton.transitions")
                .description("automaton transitions asked through the peer API, by result")
                .tags("result", r)
                .register(registry));
  }

  private PerGroup group(Group g) {
    return groups.computeIfAbsent(g, PerGroup::new);
  }

  @Override
  public void etcdContact(boolean ok) {
    connected.set(ok ? 1 : 0);
    if (ok) {
      lastContactMillis.set(System.currentTimeMillis());
    }
  }

  @Override
  public void registered(Group g, boolean registered) {
    group(g).registered.set(registered ? 1 : 0);
  }

  @Override
  public void leading(Group g, boolean leading) {
    PerGroup pg = group(g);
    if (pg.leader.getAndSet(leading ? 1 : 0) != (leading ? 1 : 0)) {
      pg.leaderChanges.increment();
    }
    if (!leading) {
      pg.members.set(0);
    }
  }

  @Override
  public void groupRead(Group g, int members, String digest) {
    PerGroup pg = group(g);
    pg.members.set(members);
    String before = pg.digest;
    pg.digest = digest;
    if (before != null && !before.equals(digest)) {
      pg.groupChanges.increment();
    }
  }

  @Override
  public void callback(Group g, CallbackResult result, Duration took) {
    PerGroup pg = group(g);
    pg.runs.get(result).increment();
    pg.duration.record(took.toNanos(), TimeUnit.NANOSECONDS);
  }

  @Override
  public void render(boolean ok) {
    (ok ? renderOk : renderFailed).increment();
  }

  @Override
  public void transition(String result) {
    transitionCounter(Objects.requireNonNull(result)).increment();
  }

  @Override
  public void automatonState(String state) {
    if (!state.isEmpty()) {
      states.computeIfAbsent(
          state,
          s -> {
            AtomicInteger v = new AtomicInteger();
            Gauge.builder("kontrol.automaton.state", v, AtomicInteger::get)
                .description("1 for the automaton's current state (as last read), 0 for the others seen")
                .tags("state", s)
                .register(registry);
            return v;
          });
    }
    states.forEach((s, v) -> v.set(s.equals(state) ? 1 : 0));
  }

  @Override
  public void peerRequest(String method, String code) {
    requests
        .computeIfAbsent(
            List.of(method, code),
            k ->
                Counter.builder("kontrol.peer.rpc.requests")
                    .description("peer API calls served, by method and gRPC status code")
                    .tags("method", method, "code", code)
                    .register(registry))
        .increment();
  }
}
