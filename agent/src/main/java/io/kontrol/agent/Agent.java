package io.kontrol.agent;

import io.etcd.jetcd.Client;
import io.kontrol.agent.callback.Backoff;
import io.kontrol.agent.callback.Callback;
import io.kontrol.agent.callback.CallbackRunner;
import io.kontrol.agent.callback.CallbackScheduler;
import io.kontrol.agent.callback.Damper;
import io.kontrol.agent.callback.Settle;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.election.LeaderElection;
import io.kontrol.agent.election.Leadership;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.lease.ConnectBackoff;
import io.kontrol.agent.lease.LeaseKeeper;
import io.kontrol.agent.metrics.AgentEvents;
import io.kontrol.agent.registry.Registration;
import io.kontrol.agent.watch.GroupView;
import io.kontrol.agent.watch.GroupWatch;
import io.kontrol.agent.watch.SnapshotReader;
import java.io.Closeable;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kontrol agent: registration under each master group (slave mode), and election, watch and
 * callback for its own group (master mode), on one etcd client.
 *
 * <pre>
 * try (Agent agent = Agent.start(AgentConfig.fromEnvironment(System.getenv()))) { ... }
 * </pre>
 *
 * <p>{@code extras} are closed with the agent, after it has left its groups (e.g. the peer gRPC
 * server started next to it).
 */
public final class Agent implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(Agent.class);
  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  /** A failed callback is retried after 1 s, 2 s, 4 s ... at most this. */
  static final Duration RETRY_MAX = Duration.ofSeconds(60);

  /**
   * While etcd does not answer, the client tries to connect at most this often: after an outage,
   * every pod is back within about this of etcd answering.
   */
  static final Duration RECONNECT_MIN = Duration.ofSeconds(1);

  private enum State {
    STARTED,
    CLOSED
  }

  private final AgentConfig config;
  /** Makes the callback for the configured command and timeout, for each term. */
  private final BiFunction<String, Duration, Callback> callbacks;
  private final String nonce;
  private final Client client;
  private final ConnectBackoff reconnect;
  private final List<AutoCloseable> extras;
  private final AtomicReference<State> state = new AtomicReference<>(State.STARTED);
  private final Registration registration;
  private final LeaderElection election;
  private final Object leaderLock = new Object();
  private CallbackScheduler scheduler; // guarded by leaderLock
  private Optional<Callback> callback = Optional.empty(); // guarded by leaderLock
  private GroupView view; // guarded by leaderLock
  private GroupWatch configWatch; // guarded by leaderLock
  private volatile Optional<String> lastDigest = Optional.empty();
  private volatile Optional<String> lastState = Optional.empty();
  private volatile Optional<AgentStatus.LastCallback> lastCallback = Optional.empty();
  private final AgentEvents events;
  private volatile boolean etcdConnected;
  /** When etcd first did not answer in the current outage; guarded by this. */
  private long outageSince = Settle.NONE;
  /** When etcd last answered again after an outage; guarded by this. */
  private long outageEnded = Settle.NONE;
  private volatile long lastEtcdContactMillis;

  private Agent(AgentConfig config, AgentEvents sink, BiFunction<String, Duration, Callback> callbacks, List<AutoCloseable> extras) {
    this.config = config;
    this.callbacks = callbacks;
    this.client =
        Client.builder()
            .endpoints(config.etcd().toArray(String[]::new))
            .connectTimeout(Duration.ofSeconds(2))
            .keepaliveTime(Duration.ofSeconds(10))
            .keepaliveTimeout(Duration.ofSeconds(3))
            .build();
    this.reconnect = ConnectBackoff.of(client, RECONNECT_MIN);
    // etcd contact is kept here too, for readiness; everything goes on to the sink (metrics)
    this.events =
        AgentEvents.both(
            new AgentEvents() {
              @Override
              public void etcdContact(boolean ok) {
                outage(ok);
                etcdConnected = ok;
                if (ok) {
                  lastEtcdContactMillis = System.currentTimeMillis();
                } else {
                  // the channel tries again now, not after its own backoff of up to minutes
                  reconnect.reset();
                }
              }
            },
            sink);
    this.extras = List.copyOf(extras);
    byte[] n = new byte[8];
    new SecureRandom().nextBytes(n);
    this.nonce = HexFormat.of().formatHex(n);
    List<Group> groups = config.reportsTo();
    this.registration =
        groups.isEmpty()
            ? null
            : new Registration(
                client,
                new Registration.Pod(config.app(), config.id(), config.ip(), config.role(), nonce),
                groups,
                config.ttl(),
                config.payload(),
                events);
    this.election =
        config.isMaster()
            ? new LeaderElection(
                client,
                config.ownGroup(),
                config.id(),
                config.fover(),
                new LeaderElection.Listener() {
                  @Override
                  public void elected(Leadership leadership) {
                    lead(leadership);
                  }

                  @Override
                  public void deposed(Leadership leadership, String why) {
                    stopLeading();
                    events.leading(leadership.group(), false);
                  }
                },
                events)
            : null;
  }

  /** Starts an agent; it runs until {@link #close()}. */
  public static Agent start(AgentConfig config, AutoCloseable... extras) {
    return start(config, AgentEvents.NONE, extras);
  }

  /** Starts an agent that reports what happens to {@code events} (metrics). */
  public static Agent start(AgentConfig config, AgentEvents events, AutoCloseable... extras) {
    return start(config, events, CallbackRunner::new, extras);
  }

  /**
   * Starts an agent whose leader callback {@code callbacks} makes from the configured command and
   * timeout (at each term; closed at its end when it is {@link AutoCloseable}); the other {@code
   * start}s fork the command ({@link CallbackRunner}).
   */
  public static Agent start(
      AgentConfig config, AgentEvents events, BiFunction<String, Duration, Callback> callbacks, AutoCloseable... extras) {
    Agent a = new Agent(config, events, callbacks, List.of(extras));
    LOG.info(
        "agent started pod={} ip={} app={} role={} modes={} etcd={} reportsTo={} leadsFor={}",
        config.id(),
        config.ip(),
        config.app(),
        config.role(),
        config.modes(),
        String.join(",", config.etcd()),
        config.reportsTo(),
        config.isMaster() ? config.ownGroup() : "-");
    if (config.isSlave() && config.reportsTo().isEmpty()) {
      LOG.warn("slave mode but no group to report to pod={} (annotation {} is empty)", config.id(), AgentConfig.MASTER_ANNOTATION);
    }
    if (a.registration != null) {
      a.registration.start();
    }
    if (a.election != null) {
      a.election.start();
    }
    return a;
  }

  /** The agent's version (the jar's Implementation-Version), {@code dev} outside a jar. */
  public static String version() {
    String v = Agent.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  public AgentConfig config() {
    return config;
  }

  /** The etcd client this agent uses (shared: do not close it). */
  public Client etcd() {
    return client;
  }

  /** The random nonce of this agent start, as in its records. */
  public String nonce() {
    return nonce;
  }

  public AgentStatus status() {
    Map<Group, Boolean> leads =
        election == null ? Map.of() : Map.of(election.group(), election.isLeader());
    return new AgentStatus(
        config.id(),
        registration == null ? Map.of() : registration.records(),
        config.reportsTo(),
        leads,
        lastDigest,
        lastState,
        lastCallback);
  }

  /** Keeps when etcd last answered again after it could not be reached, for {@link Settle}. */
  private synchronized void outage(boolean ok) {
    long now = System.nanoTime();
    if (!ok && outageSince == Settle.NONE) {
      outageSince = now;
    } else if (ok && outageSince != Settle.NONE) {
      LOG.info("etcd answers again pod={} after {} ms without an answer", config.id(), (now - outageSince) / 1_000_000);
      outageSince = Settle.NONE;
      outageEnded = now;
    }
  }

  private synchronized long outageEnded() {
    return outageEnded;
  }

  /** True when the last etcd call of the agent's lease loops succeeded. */
  public boolean etcdConnected() {
    return etcdConnected;
  }

  /** When etcd last answered (epoch millis), 0 if never. */
  public long lastEtcdContactMillis() {
    return lastEtcdContactMillis;
  }

  /** Slave mode: whether the pod's record is in every group it reports to, on a live lease. */
  public Optional<Boolean> registered() {
    return registration == null ? Optional.empty() : Optional.of(registration.isRegistered());
  }

  /** The groups whose record is written on the current lease (slave mode). */
  public java.util.Set<Group> registeredGroups() {
    return registration == null ? java.util.Set.of() : registration.registeredGroups();
  }

  /**
   * Master mode, while leading: whether the election's lease is alive; empty when not leading.
   */
  public Optional<Boolean> leaderLeaseLive() {
    return election == null || !election.isLeader()
        ? Optional.empty()
        : Optional.of(election.leaseLive());
  }

  /** True once {@link #close()} has been called. */
  public boolean isClosed() {
    return state.get() == State.CLOSED;
  }

  /**
   * The agent's loops by name ({@code registry}, {@code election}, {@code callback} while
   * leading), each a single thread: liveness checks submit a no-op to each and see it run.
   */
  public Map<String, ScheduledExecutorService> loops() {
    Map<String, ScheduledExecutorService> m = new LinkedHashMap<>();
    if (registration != null) {
      m.put("registry", registration.executor());
    }
    if (election != null) {
      m.put("election", election.executor());
    }
    synchronized (leaderLock) {
      if (scheduler != null) {
        m.put("callback", scheduler.executor());
      }
    }
    return m;
  }

  /** Called on the election's thread when this agent wins its group. */
  private void lead(Leadership leadership) {
    Group g = leadership.group();
    Duration io = Duration.ofSeconds(5);
    SnapshotReader reader = new SnapshotReader(client.getKVClient(), io);
    synchronized (leaderLock) {
      stopLeadingLocked();
      if (state.get() == State.CLOSED) {
        return;
      }
      callback = config.callback().map(c -> callbacks.apply(c, config.callbackTimeout()));
      // the group's records are kept in memory on the callback loop, from one read and the watch
      ScheduledExecutorService loop = CallbackScheduler.loop(g.toString());
      AtomicReference<CallbackScheduler> marks = new AtomicReference<>();
      GroupView groupView = new GroupView(client, g, loop, () -> marks.get().changed(), io);
      scheduler =
          new CallbackScheduler(
              g.toString(),
              config.id(),
              new Damper(config.damper(), config.damperMax()),
              new Backoff(Duration.ofSeconds(1), RETRY_MAX),
              loop,
              System::nanoTime,
              () -> {
                // nothing acts on a term whose election lease may have expired at etcd
                actingAllowed(leadership);
                var snapshot = groupView.snapshot(reader);
                actingAllowed(leadership);
                return snapshot;
              },
              callback,
              config.env(),
              (st, members) -> {
                actingAllowed(leadership);
                return leadership.writeFenced(
                    Map.of(g.stateKey(), st, g.membersKey(), JSON.writeValueAsString(members)), io);
              },
              outcome -> {
                events.groupRead(g, outcome.snapshot().pods().size(), outcome.snapshot().md5());
                outcome
                    .result()
                    .ifPresent(
                        r -> {
                          AgentEvents.CallbackResult result =
                              r.timedOut()
                                  ? AgentEvents.CallbackResult.TIMEOUT
                                  : r.state().isPresent()
                                      ? AgentEvents.CallbackResult.OK
                                      : AgentEvents.CallbackResult.FAILED;
                          events.callback(g, result, r.took());
                          lastCallback =
                              Optional.of(new AgentStatus.LastCallback(System.currentTimeMillis(), result.label()));
                        });
                lastDigest = Optional.of(outcome.snapshot().md5());
                lastState =
                    outcome.stateWritten()
                        ? outcome.result().flatMap(r -> r.state())
                        : outcome.snapshot().state();
              },
              new Settle(
                  config.damper(),
                  config.ttl(),
                  this::outageEnded,
                  config.reportsTo().contains(g) ? Optional.of(config.id()) : Optional.empty(),
                  System.nanoTime()));
      marks.set(scheduler);
      view = groupView.start();
      configWatch = new GroupWatch(client, g, g.configKey(), scheduler.executor(), scheduler::configChanged).start();
    }
    events.leading(g, true);
  }

  /**
   * Throws unless {@code leadership} is still this agent's term and its election lease is alive
   * (kept alive less than FOVER ago, minus a margin): the fenced write refuses a deposed leader, and
   * this keeps such a leader from reading its group, starting a callback or retrying one.
   */
  private void actingAllowed(Leadership leadership) {
    if (election.current().orElse(null) != leadership || !election.leaseLive()) {
      throw new IllegalStateException("not acting: the election lease of " + leadership.group() + " is not alive");
    }
  }

  private void stopLeading() {
    synchronized (leaderLock) {
      stopLeadingLocked();
    }
  }

  private void stopLeadingLocked() {
    if (view != null) {
      view.close();
      view = null;
    }
    if (configWatch != null) {
      configWatch.close();
      configWatch = null;
    }
    if (scheduler != null) {
      scheduler.close();
      scheduler = null;
    }
    if (callback.orElse(null) instanceof AutoCloseable c) {
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("callback not closed pod={} error={}", config.id(), LeaseKeeper.brief(e));
      }
    }
    callback = Optional.empty();
  }

  /**
   * Leaves: steps down and resigns (a successor is elected at once), revokes the registration
   * lease (peers see the pod leave at once), closes the extras and the client. Bounded (about 15 s
   * at worst when etcd does not answer).
   */
  @Override
  public void close() {
    if (state.getAndSet(State.CLOSED) == State.CLOSED) {
      return;
    }
    List<AutoCloseable> toClose = new ArrayList<>();
    if (election != null) {
      toClose.add(election);
    }
    toClose.add(this::stopLeading);
    if (registration != null) {
      toClose.add(registration);
    }
    toClose.addAll(extras);
    try {
      for (AutoCloseable c : toClose) {
        try {
          c.close();
        } catch (Exception e) {
          LOG.warn("close failed pod={} what={} error={}", config.id(), c, LeaseKeeper.brief(e));
        }
      }
    } finally {
      reconnect.close();
      client.close();
      LOG.info("agent stopped pod={}", config.id());
    }
  }
}
