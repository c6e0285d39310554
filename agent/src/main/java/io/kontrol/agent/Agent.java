package io.kontrol.agent;

import io.etcd.jetcd.Client;
import io.kontrol.agent.callback.Backoff;
import io.kontrol.agent.callback.CallbackRunner;
import io.kontrol.agent.callback.CallbackScheduler;
import io.kontrol.agent.callback.Damper;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.election.LeaderElection;
import io.kontrol.agent.election.Leadership;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.lease.LeaseKeeper;
import io.kontrol.agent.metrics.AgentEvents;
import io.kontrol.agent.registry.Registration;
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

  /** A failed callback is retried after 1 s, 2 s, 4 s ... at most this. */
  static final Duration RETRY_MAX = Duration.ofSeconds(60);

  private enum State {
    STARTED,
    CLOSED
  }

  private final AgentConfig config;
  private final String nonce;
  private final Client client;
  private final List<AutoCloseable> extras;
  private final AtomicReference<State> state = new AtomicReference<>(State.STARTED);
  private final Registration registration;
  private final LeaderElection election;
  private final Object leaderLock = new Object();
  private CallbackScheduler callbacks; // guarded by leaderLock
  private GroupWatch watch; // guarded by leaderLock
  private volatile Optional<String> lastDigest = Optional.empty();
  private volatile Optional<String> lastState = Optional.empty();
  private volatile Optional<AgentStatus.LastCallback> lastCallback = Optional.empty();
  private final AgentEvents events;
  private volatile boolean etcdConnected;
  private volatile long lastEtcdContactMillis;

  private Agent(AgentConfig config, AgentEvents sink, List<AutoCloseable> extras) {
    this.config = config;
    // etcd contact is kept here too, for readiness; everything goes on to the sink (metrics)
    this.events =
        new AgentEvents() {
          @Override
          public void etcdContact(boolean ok) {
            etcdConnected = ok;
            if (ok) {
              lastEtcdContactMillis = System.currentTimeMillis();
            }
            sink.etcdContact(ok);
          }

          @Override
          public void registered(Group group, boolean registered) {
            sink.registered(group, registered);
          }

          @Override
          public void leading(Group group, boolean leading) {
            sink.leading(group, leading);
          }

          @Override
          public void groupRead(Group group, int members, String digest) {
            sink.groupRead(group, members, digest);
          }

          @Override
          public void callback(Group group, CallbackResult result, Duration took) {
            sink.callback(group, result, took);
          }

          @Override
          public void render(boolean ok) {
            sink.render(ok);
          }
        };
    this.extras = List.copyOf(extras);
    byte[] n = new byte[8];
    new SecureRandom().nextBytes(n);
    this.nonce = HexFormat.of().formatHex(n);
    this.client =
        Client.builder()
            .endpoints(config.etcd().toArray(String[]::new))
            .connectTimeout(Duration.ofSeconds(2))
            .keepaliveTime(Duration.ofSeconds(10))
            .keepaliveTimeout(Duration.ofSeconds(3))
            .build();
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
    Agent a = new Agent(config, events, List.of(extras));
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
      if (callbacks != null) {
        m.put("callback", callbacks.executor());
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
      callbacks =
          new CallbackScheduler(
              g.toString(),
              config.id(),
              new Damper(config.damper(), config.damperMax()),
              new Backoff(Duration.ofSeconds(1), RETRY_MAX),
              System::nanoTime,
              () -> reader.read(g),
              config.callback().map(c -> new CallbackRunner(c, config.callbackTimeout())),
              config.env(),
              st -> leadership.writeFenced(g.stateKey(), st, io),
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
              });
      watch = new GroupWatch(client, g, callbacks.executor(), callbacks::changed).start();
    }
    events.leading(g, true);
  }

  private void stopLeading() {
    synchronized (leaderLock) {
      stopLeadingLocked();
    }
  }

  private void stopLeadingLocked() {
    if (watch != null) {
      watch.close();
      watch = null;
    }
    if (callbacks != null) {
      callbacks.close();
      callbacks = null;
    }
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
      client.close();
      LOG.info("agent stopped pod={}", config.id());
    }
  }
}
