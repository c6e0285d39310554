package io.kontrol.agent.metrics;

import io.kontrol.agent.Agent;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.health.AgentHealth;
import io.kontrol.agent.http.HttpEndpoint;
import io.kontrol.agent.boot.TelegrafConfig;
import io.kontrol.agent.group.Group;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.Closeable;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * What an operator sees of an agent: its meters ({@link AgentMetrics}) and its HTTP endpoint
 * ({@link HttpEndpoint}: {@code /metrics}, {@code /livez}, {@code /readyz}). Started before the
 * agent (a port in use stops the start before anything else runs), then {@link #attach}ed to it;
 * closed with it.
 *
 * <p>When the pod has the {@code kontrol.unity3d.com/opentsdb} annotation (the one that makes
 * {@code kontrol boot} render telegraf's configuration), the same meters also go to telegraf's
 * statsd input on {@link #STATSD} ({@link StatsdRegistry}); without it no socket is opened.
 */
public final class Observability implements Closeable {

  /** Where the rendered telegraf configuration listens for statsd. */
  public static final InetSocketAddress STATSD = new InetSocketAddress("127.0.0.1", 8125);
  /** telegraf's collection interval in the rendered configuration. */
  public static final Duration STATSD_STEP = Duration.ofSeconds(10);

  private final PrometheusMeterRegistry prometheus;
  private final StatsdRegistry statsd;
  private final AgentMetrics metrics;
  private final AgentHealth health;
  private final HttpEndpoint http;

  private Observability(
      PrometheusMeterRegistry prometheus,
      StatsdRegistry statsd,
      AgentMetrics metrics,
      AgentHealth health,
      HttpEndpoint http) {
    this.prometheus = prometheus;
    this.statsd = statsd;
    this.metrics = metrics;
    this.health = health;
    this.http = http;
  }

  /**
   * Builds the meters and binds {@code KONTROL_HTTP_PORT}.
   *
   * @throws ConfigException (exit 2) when the port is in use
   * @throws UncheckedIOException when the server cannot start for another reason
   */
  public static Observability start(AgentConfig config) {
    return start(config, STATSD, STATSD_STEP);
  }

  /** Whether the pod's annotations ask for telegraf (as {@code kontrol boot} decides it). */
  public static boolean statsdWanted(AgentConfig config) {
    String endpoint = config.annotations().get(TelegrafConfig.ANNOTATION);
    return endpoint != null && !endpoint.isBlank();
  }

  /** As {@link #start(AgentConfig)}, with statsd (when wanted) to {@code target} every {@code step}. */
  public static Observability start(AgentConfig config, InetSocketAddress target, Duration step) {
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    List<Group> groups = new ArrayList<>(config.reportsTo());
    if (config.isMaster() && !groups.contains(config.ownGroup())) {
      groups.add(config.ownGroup());
    }
    AgentHealth health = new AgentHealth(config.callbackTimeout());
    HttpEndpoint http;
    try {
      http = HttpEndpoint.start(config.httpPort(), prometheus::scrape, health);
    } catch (BindException e) {
      prometheus.close();
      throw new ConfigException(AgentConfig.KONTROL_HTTP_PORT, "cannot serve /metrics, /livez, /readyz: " + e.getMessage());
    } catch (IOException e) {
      prometheus.close();
      throw new UncheckedIOException("cannot serve on " + AgentConfig.KONTROL_HTTP_PORT + "=" + config.httpPort() + ": " + e.getMessage(), e);
    }
    StatsdRegistry statsd = null;
    MeterRegistry registry = prometheus;
    if (statsdWanted(config)) {
      try {
        statsd = StatsdRegistry.start(target, step);
      } catch (IOException e) {
        http.close();
        prometheus.close();
        throw new UncheckedIOException("cannot open a UDP socket for statsd: " + e.getMessage(), e);
      }
      CompositeMeterRegistry composite = new CompositeMeterRegistry();
      composite.add(prometheus);
      composite.add(statsd);
      registry = composite;
    }
    AgentMetrics metrics = new AgentMetrics(registry, Agent.version(), groups);
    return new Observability(prometheus, statsd, metrics, health, http);
  }

  /** Where the agent's components report (the meters). */
  public AgentEvents events() {
    return metrics;
  }

  /** The running agent, for the health checks. */
  public void attach(Agent agent) {
    health.attach(agent);
  }

  /** The HTTP endpoint's bound port. */
  public int port() {
    return http.port();
  }

  /** Prometheus' text for the current meters (what {@code /metrics} serves). */
  public String scrape() {
    return prometheus.scrape();
  }

  /** The statsd sender, when the pod's annotations asked for telegraf. */
  public Optional<StatsdRegistry> statsd() {
    return Optional.ofNullable(statsd);
  }

  @Override
  public void close() {
    try {
      http.close();
    } finally {
      try {
        prometheus.close();
      } finally {
        if (statsd != null) {
          statsd.close();
        }
      }
    }
  }
}
