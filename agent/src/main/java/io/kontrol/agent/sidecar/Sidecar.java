package io.kontrol.agent.sidecar;

import io.kontrol.agent.Agent;
import io.kontrol.agent.annotations.LiveAnnotations;
import io.kontrol.agent.cli.BuiltinCommand;
import io.kontrol.agent.cli.InAgentConfigure;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.identity.IdentityResolver;
import io.kontrol.agent.identity.KubernetesIdentity;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.metrics.AgentEvents;
import io.kontrol.agent.metrics.Observability;
import io.kontrol.agent.rpc.AgentStatusSource;
import io.kontrol.agent.rpc.LastInputs;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerServer;
import io.kontrol.service.nats.ConfigApi;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The agent as a pod runs it ({@code kontrol run}), wired in one place: the HTTP endpoint
 * ({@code KONTROL_HTTP_PORT}: metrics, health), the peer API server ({@code KONTROL_PORT}) and the
 * status it reports from the agent, the pod's live annotations, the NATS request API when the
 * pod's {@code nats.unity3d.com/config-api} annotation turns it on ({@link ConfigApi}), the
 * HAProxy and NATS pods' in-agent {@code configure} when {@code KONTROL_CONFIGURE} asks for it ({@link
 * InAgentConfigure}), then the {@link Agent} itself, whose callback runs inside it when it is one
 * of kontrol's own commands ({@link BuiltinCommand}) — started in that order and closed together (the agent leaves its groups
 * first, then the rest stops).
 */
public final class Sidecar implements Closeable {
  private final Agent agent;
  private final PeerServer peers;
  private final Observability observe;

  private Sidecar(Agent agent, PeerServer peers, Observability observe) {
    this.agent = agent;
    this.peers = peers;
    this.observe = observe;
  }

  /**
   * Starts everything, the agent last.
   *
   * @throws ConfigException on a bad setting (token file, TLS files, a port in use), before
   *     anything that could outlive the call is left running
   * @throws UncheckedIOException when a server cannot start for another reason
   */
  public static Sidecar start(AgentConfig config) {
    PeerConfig peerConfig = PeerConfig.fromEnv(config.env());
    // the HTTP endpoint binds first: a port in use stops here
    Observability observe = Observability.start(config);
    AgentStatusSource status = new AgentStatusSource(config);
    LastInputs inputs = new LastInputs();
    PeerServer peers = null;
    InAgentConfigure configure = null;
    LiveAnnotations live;
    try {
      configure = InAgentConfigure.start(config.env()).orElse(null);
      peers = PeerServer.start(peerConfig, status, observe.events(), inputs);
      live = LiveAnnotations.start(config.env(), config.id(), peerConfig.socket(), inputs,
          IdentityResolver.needsKubernetes(config.env()) && !Files.exists(PodInfo.file(config.env()))
              ? KubernetesIdentity.inClusterClient() : null);
    } catch (IOException | RuntimeException e) {
      if (peers != null) {
        peers.close();
      }
      if (configure != null) {
        configure.close();
      }
      observe.close();
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new UncheckedIOException(e.getMessage(), (IOException) e);
    }
    AgentEvents events = observe.events();
    ConfigApi.Handle api = null;
    if (config.isMaster() && ConfigApi.enabled(config.annotations())) {
      api = ConfigApi.start(config, peerConfig.token());
      events = withLeadership(events, api);
    }
    // closed with the agent, in this order; the lifecycle's configure state reaches `configure` until the end
    List<AutoCloseable> extras = new ArrayList<>();
    if (api != null) {
      extras.add(api);
    }
    extras.add(live);
    extras.add(peers);
    if (configure != null) {
      extras.add(configure);
    }
    extras.add(observe);
    Agent agent = Agent.start(config, events, BuiltinCommand::callback, extras.toArray(AutoCloseable[]::new));
    if (api != null) {
      api.attach(agent.etcd());
    }
    // failsafe: while etcd cannot be reached, an annotation change re-renders nothing
    live.holdWhile(() -> !agent.etcdConnected());
    status.attach(agent);
    observe.attach(agent);
    return new Sidecar(agent, peers, observe);
  }

  /** {@code events}, and every change of leadership to {@code api} too. */
  private static AgentEvents withLeadership(AgentEvents events, ConfigApi.Handle api) {
    return AgentEvents.both(events, new AgentEvents() {
      @Override
      public void leading(Group group, boolean leading) {
        api.leading(group, leading);
      }
    });
  }

  public Agent agent() {
    return agent;
  }

  /** The peer API server (its port is {@link PeerServer#port()}). */
  public PeerServer peers() {
    return peers;
  }

  /** The HTTP endpoint (metrics, health). */
  public Observability observability() {
    return observe;
  }

  /** Leaves the groups, then stops the rest; bounded (see {@link Agent#close()}). */
  @Override
  public void close() {
    agent.close();
  }
}
