package io.kontrol.agent.health;

import io.kontrol.agent.Agent;
import io.kontrol.agent.group.Group;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * The agent's health, as Patroni defines it for its own REST API: liveness is about the agent's
 * loops, never about etcd (an etcd outage must not get pods restarted); readiness is about its
 * work in etcd.
 *
 * <p>Liveness: each of the agent's single-threaded loops (registry, election, and the callback
 * loop while leading) is handed a no-op at each check; a loop is dead when the no-op handed to it
 * has not run within its limit (30 s, or the callback timeout plus 30 s for the callback loop,
 * which runs callbacks). No thread of its own: the checks are driven by the probes.
 *
 * <p>Readiness: {@code etcd} (the last etcd call of the lease loops succeeded), {@code
 * registered} (slave mode: the record is in every group, on a live lease), {@code leader-lease}
 * (while leading: the election lease is alive).
 */
public final class AgentHealth implements HealthChecks {

  static final Duration LOOP_LIMIT = Duration.ofSeconds(30);

  private final Duration callbackLimit;
  private final LongSupplier nanoClock;
  private final AtomicReference<Agent> agent = new AtomicReference<>();
  /** Per loop, the last no-op handed to it. Guarded by this. */
  private final Map<String, Ping> pings = new HashMap<>();

  private static final class Ping {
    final ScheduledExecutorService loop;
    final long sentNanos;
    volatile long ranNanos; // 0 until it ran

    Ping(ScheduledExecutorService loop, long sentNanos) {
      this.loop = loop;
      this.sentNanos = sentNanos;
    }
  }

  public AgentHealth(Duration callbackTimeout) {
    this(callbackTimeout, System::nanoTime);
  }

  AgentHealth(Duration callbackTimeout, LongSupplier nanoClock) {
    this.callbackLimit = callbackTimeout.plus(LOOP_LIMIT);
    this.nanoClock = nanoClock;
  }

  /** Attaches the running agent (the HTTP endpoint starts before it). */
  public void attach(Agent running) {
    agent.set(running);
  }

  @Override
  public synchronized List<Check> liveness() {
    Agent a = agent.get();
    if (a == null) {
      return List.of(Check.pass("agent"));
    }
    if (a.isClosed()) {
      return List.of(Check.fail("agent", "stopped"));
    }
    List<Check> out = new ArrayList<>();
    long now = nanoClock.getAsLong();
    Map<String, ScheduledExecutorService> loops = a.loops();
    pings.keySet().retainAll(loops.keySet());
    loops.forEach((name, loop) -> out.add(check(name, loop, now)));
    return out;
  }

  private Check check(String name, ScheduledExecutorService loop, long now) {
    String check = "loop-" + name;
    Duration limit = name.equals("callback") ? callbackLimit : LOOP_LIMIT;
    Ping last = pings.get(name);
    if (last != null && last.loop == loop && last.ranNanos == 0) {
      long waited = now - last.sentNanos;
      return waited > limit.toNanos()
          ? Check.fail(check, "busy for " + TimeUnit.NANOSECONDS.toSeconds(waited) + " s (limit " + limit.toSeconds() + " s)")
          : Check.pass(check);
    }
    Ping p = new Ping(loop, now);
    try {
      loop.execute(() -> p.ranNanos = Math.max(1, nanoClock.getAsLong()));
    } catch (RejectedExecutionException e) {
      Agent a = agent.get();
      // a callback loop closes when leadership ends: only a stopped loop of a running agent is dead
      return a != null && !a.loops().containsValue(loop) ? Check.pass(check) : Check.fail(check, "stopped");
    }
    pings.put(name, p);
    return Check.pass(check);
  }

  @Override
  public List<Check> readiness() {
    Agent a = agent.get();
    if (a == null) {
      return List.of(Check.fail("agent", "starting"));
    }
    if (a.isClosed()) {
      return List.of(Check.fail("agent", "stopped"));
    }
    List<Check> out = new ArrayList<>();
    if (a.etcdConnected()) {
      out.add(Check.pass("etcd"));
    } else {
      long last = a.lastEtcdContactMillis();
      out.add(Check.fail("etcd", last == 0 ? "not reached yet" : "no answer since " + Instant.ofEpochMilli(last)));
    }
    a.registered()
        .ifPresent(
            ok -> {
              if (ok) {
                out.add(Check.pass("registered"));
              } else {
                List<Group> missing = new ArrayList<>(a.config().reportsTo());
                missing.removeAll(a.registeredGroups());
                out.add(
                    Check.fail(
                        "registered",
                        missing.isEmpty() ? "registration lease not kept alive" : "not in " + missing));
              }
            });
    a.leaderLeaseLive()
        .ifPresent(
            live ->
                out.add(
                    live
                        ? Check.pass("leader-lease")
                        : Check.fail("leader-lease", "leading " + a.config().ownGroup() + " on a lease not kept alive")));
    return out;
  }
}
