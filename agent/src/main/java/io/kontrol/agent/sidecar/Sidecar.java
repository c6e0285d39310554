package io.kontrol.agent.sidecar;

import io.kontrol.agent.Agent;
import io.kontrol.agent.annotations.LiveAnnotations;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.identity.IdentityResolver;
import io.kontrol.agent.identity.KubernetesIdentity;
import io.kontrol.agent.identity.PodInfo;
import io.kontrol.agent.metrics.Observability;
import io.kontrol.agent.rpc.AgentStatusSource;
import io.kontrol.agent.rpc.LastInputs;
import io.kontrol.agent.rpc.PeerConfig;
import io.kontrol.agent.rpc.PeerServer;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/**
 * The agent as a pod runs it ({@code kontrol run}), wired in one place: the HTTP endpoint
 * ({@code KONTROL_HTTP_PORT}: metrics, health), the peer API server ({@code KONTROL_PORT}) and the
 * status it reports from the agent, the pod's live annotations, then the {@link Agent} itself —
 * started in that order and closed together (the agent leaves its groups first, then the rest
 * stops).
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
    LiveAnnotations live;
    try {
      peers = PeerServer.start(peerConfig, status, observe.events(), inputs);
      live = LiveAnnotations.start(config.env(), config.id(), peerConfig.socket(), inputs,
          IdentityResolver.needsKubernetes(config.env()) && !Files.exists(PodInfo.file(config.env()))
              ? KubernetesIdentity.inClusterClient() : null);
    } catch (IOException | RuntimeException e) {
      if (peers != null) {
        peers.close();
      }
      observe.close();
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new UncheckedIOException(e.getMessage(), (IOException) e);
    }
    Agent agent = Agent.start(config, observe.events(), live, peers, observe);
    status.attach(agent);
    observe.attach(agent);
    return new Sidecar(agent, peers, observe);
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
