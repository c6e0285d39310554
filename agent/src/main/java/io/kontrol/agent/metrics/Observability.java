package io.kontrol.agent.metrics;

import io.kontrol.agent.Agent;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.config.ConfigException;
import io.kontrol.agent.health.AgentHealth;
import io.kontrol.agent.http.HttpEndpoint;
import io.kontrol.agent.group.Group;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.Closeable;
import java.io.IOException;
import java.net.BindException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * What an operator sees of an agent: its meters ({@link AgentMetrics}) and its HTTP endpoint
 * ({@link HttpEndpoint}: {@code /metrics}, {@code /livez}, {@code /readyz}). Started before the
 * agent (a port in use stops the start before anything else runs), then {@link #attach}ed to it;
 * closed with it.
 */
public final class Observability implements Closeable {

  private final PrometheusMeterRegistry prometheus;
  private final AgentMetrics metrics;
  private final AgentHealth health;
  private final HttpEndpoint http;

  private Observability(
      PrometheusMeterRegistry prometheus, AgentMetrics metrics, AgentHealth health, HttpEndpoint http) {
    this.prometheus = prometheus;
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
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    List<Group> groups = new ArrayList<>(config.reportsTo());
    if (config.isMaster() && !groups.contains(config.ownGroup())) {
      groups.add(config.ownGroup());
    }
    AgentMetrics metrics = new AgentMetrics(prometheus, Agent.version(), groups);
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
    return new Observability(prometheus, metrics, health, http);
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

  @Override
  public void close() {
    try {
      http.close();
    } finally {
      prometheus.close();
    }
  }
}
