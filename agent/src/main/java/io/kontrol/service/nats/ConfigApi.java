package io.kontrol.service.nats;

import io.etcd.jetcd.Client;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.group.Group;
import java.util.Map;
import java.util.Optional;

/**
 * The switch of the NATS request API ({@link ConfigRequests}): on only when the pod has the
 * annotation {@code nats.unity3d.com/config-api: "true"}. This class names no jnats type, so a pod
 * without the annotation never loads the NATS client library.
 */
public final class ConfigApi {

  /** The pod annotation that turns the API on. */
  public static final String ANNOTATION = "nats.unity3d.com/config-api";
  /** The broker the leader connects to (its own pod's), unless {@code KONTROL_NATS_URL} says. */
  public static final String DEFAULT_URL = "nats://127.0.0.1:4242";

  /** What the sidecar holds: leadership in, closed with the agent. */
  public interface Handle extends AutoCloseable {
    /** This agent started or stopped leading {@code group}; any thread, never blocks. */
    void leading(Group group, boolean leading);

    /** The agent's etcd client, once it runs (shared: never closed here). */
    void attach(Client etcd);

    @Override
    void close();
  }

  private ConfigApi() {}

  /** Whether the pod's annotations turn the API on. */
  public static boolean enabled(Map<String, String> annotations) {
    return "true".equals(annotations.get(ANNOTATION));
  }

  /**
   * Starts connecting to the pod's broker ({@code KONTROL_NATS_URL}, default {@link #DEFAULT_URL});
   * the subjects are served only while this agent leads its group.
   *
   * @param token the peer token a request must carry, if one is configured
   */
  public static Handle start(AgentConfig config, Optional<String> token) {
    String url = config.env().getOrDefault("KONTROL_NATS_URL", DEFAULT_URL);
    return ConfigRequests.start(config.ownGroup(), config.id(), url, token);
  }
}
