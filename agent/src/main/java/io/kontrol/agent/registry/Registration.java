package io.kontrol.agent.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.etcd.jetcd.Client;
import io.kontrol.agent.metrics.AgentEvents;
import io.kontrol.agent.render.RenderStatus;
import io.etcd.jetcd.options.PutOption;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.lease.LeaseKeeper;
import java.io.Closeable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Slave mode: this pod's record under each group it reports to, attached to one lease of TTL
 * {@code KONTROL_TTL}. When the lease is lost, a new one is granted and the records are written
 * again (same seq: it is kept per id). A payload change rewrites the records. Nothing is written
 * at steady state: keepalives are not writes.
 *
 * <p>All state is owned by one thread, {@code kontrol-registry}; etcd calls on it are bounded.
 */
public final class Registration implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(Registration.class);

  /** Lifecycle, as Curator's recipes: start and close are one-way transitions. */
  private enum State {
    LATENT,
    STARTED,
    CLOSED
  }

  /** The pod's identity as it appears in its records. */
  public record Pod(String app, String id, String ip, String role, String nonce) {}

  private final Client client;
  private final Pod pod;
  private final List<Group> groups;
  private final Optional<Path> payloadFile;
  private final ScheduledExecutorService exec;
  private final LeaseKeeper lease;
  private final SequenceAllocator seqs;
  private final Duration callTimeout;
  private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
  private final AgentEvents events;

  // owned by exec
  private final Map<Group, Long> seqOf = new HashMap<>();
  private final Map<Group, String> written = new HashMap<>();
  private JsonNode payload = JsonNodeFactory.instance.objectNode();
  private ScheduledFuture<?> retry;
  private PayloadWatcher payloadWatcher;

  private volatile Map<Group, String> records = Map.of();
  /** The groups whose record is written on the current lease. */
  private volatile Set<Group> registered = Set.of();

  public Registration(
      Client client, Pod pod, List<Group> groups, Duration ttl, Optional<Path> payloadFile) {
    this(client, pod, groups, ttl, payloadFile, AgentEvents.NONE);
  }

  /** As above, reporting etcd contact, registrations and render results to {@code events}. */
  public Registration(
      Client client,
      Pod pod,
      List<Group> groups,
      Duration ttl,
      Optional<Path> payloadFile,
      AgentEvents events) {
    this.events = events;
    this.client = client;
    this.pod = pod;
    this.groups = List.copyOf(groups);
    this.payloadFile = payloadFile;
    this.exec =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "kontrol-registry");
              t.setDaemon(true);
              return t;
            });
    this.callTimeout = Duration.ofSeconds(Math.max(1, Math.min(5, ttl.toSeconds() / 2)));
    this.seqs = new SequenceAllocator(client.getKVClient(), callTimeout);
    this.lease =
        new LeaseKeeper(
            client.getLeaseClient(),
            ttl,
            "registration pod=" + pod.id(),
            exec,
            System::nanoTime,
            new LeaseKeeper.Listener() {
              @Override
              public void onLease(long leaseId) {
                written.clear();
                // asked again (one read when its seq key is there): an etcd that lost its data
                // hands out seqs afresh, and a seq kept from before could be given to another pod
                seqOf.clear();
                registerAll();
              }

              @Override
              public void onContact(boolean ok) {
                events.etcdContact(ok);
              }

              @Override
              public void onLost(long leaseId) {
                written.clear();
                registered = Set.of();
                groups.forEach(g -> events.registered(g, false));
                LOG.warn("registration lost pod={} groups={}; registering again", pod.id(), groups);
              }
            });
  }

  /** Starts following the payload file (first read now) and registering. */
  public Registration start() {
    if (!state.compareAndSet(State.LATENT, State.STARTED)) {
      throw new IllegalStateException("already " + state.get());
    }
    payloadFile.ifPresent(
        f -> payloadWatcher = new PayloadWatcher(f, p -> exec.execute(() -> setPayload(p))).start());
    exec.execute(lease::start);
    return this;
  }

  /** The groups this pod reports to. */
  public List<Group> groups() {
    return groups;
  }

  /**
   * True when this pod's record is written in every group it reports to, on a lease that is
   * alive (its last keepalive less than a TTL ago). Any thread.
   */
  public boolean isRegistered() {
    return lease.isLive() && registered.containsAll(groups);
  }

  /** The groups whose record is written on the current lease (any thread). */
  public Set<Group> registeredGroups() {
    return registered;
  }

  /** The registration's own thread, for liveness checks. */
  public ScheduledExecutorService executor() {
    return exec;
  }

  /** This pod's record JSON per group, as last written (empty until registered). */
  public Map<Group, String> records() {
    return records;
  }

  private void setPayload(JsonNode p) {
    JsonNode before = payload.get(RenderStatus.KEY);
    JsonNode after = p.get(RenderStatus.KEY);
    if (after != null && !after.equals(before)) {
      events.render(false);
    } else if (after == null && before != null) {
      events.render(true);
    }
    payload = p;
    registerAll();
  }

  private void registerAll() {
    if (state.get() == State.CLOSED) {
      return;
    }
    long leaseId = lease.leaseId();
    if (leaseId == 0) {
      return; // the lease keeper calls back with a new lease
    }
    if (retry != null) {
      retry.cancel(false);
      retry = null;
    }
    boolean failed = false;
    Map<Group, String> now = new LinkedHashMap<>(records);
    for (Group g : groups) {
      try {
        Long seq = seqOf.get(g);
        if (seq == null) {
          seq = seqs.seqFor(g, pod.id());
          seqOf.put(g, seq);
        }
        String json =
            PodRecord.json(pod.app(), pod.id(), pod.ip(), pod.nonce(), payload, pod.role(), seq);
        if (json.equals(written.get(g))) {
          continue;
        }
        client
            .getKVClient()
            .put(
                SequenceAllocator.bytes(g.podKey(pod.id())),
                SequenceAllocator.bytes(json),
                PutOption.builder().withLeaseId(leaseId).build())
            .get(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
        boolean first = !written.containsKey(g) && !now.containsKey(g);
        written.put(g, json);
        now.put(g, json);
        LOG.info(
            "{} group={} pod={} seq={} lease={}",
            first ? "registered" : "record updated",
            g,
            pod.id(),
            seq,
            Long.toHexString(leaseId));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (Exception e) {
        failed = true;
        LOG.warn("register failed group={} pod={} error={}; retrying", g, pod.id(), LeaseKeeper.brief(e));
      }
    }
    records = Map.copyOf(now);
    registered = Set.copyOf(written.keySet());
    groups.forEach(g -> events.registered(g, written.containsKey(g)));
    if (failed && state.get() == State.STARTED) {
      retry = exec.schedule(this::registerAll, 1, TimeUnit.SECONDS);
    }
  }

  /**
   * Leaves every group at once: revokes the lease (bounded), so peers see the pod go now rather
   * than after the TTL.
   */
  @Override
  public void close() {
    if (state.getAndSet(State.CLOSED) != State.STARTED) {
      exec.shutdownNow();
      return;
    }
    try {
      if (payloadWatcher != null) {
        payloadWatcher.close();
      }
      exec.submit(
              () -> {
                lease.close(Duration.ofSeconds(2));
                LOG.info("left groups={} pod={}", groups, pod.id());
              })
          .get(4, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.warn("leave failed pod={} error={}", pod.id(), LeaseKeeper.brief(e));
    } finally {
      exec.shutdownNow();
    }
  }
}
