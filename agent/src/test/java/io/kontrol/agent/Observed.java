package io.kontrol.agent;

import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.metrics.Observability;
import io.kontrol.agent.metrics.PrometheusText;
import io.kontrol.agent.rpc.AgentStatusSource;
import io.kontrol.agent.rpc.PeerServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * An agent as {@code kontrol run} wires it, in-process: the HTTP endpoint and the peer API (both on
 * free ports), then the agent, reporting to the endpoint's meters.
 */
final class Observed implements AutoCloseable {
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  final Agent agent;
  final Observability observe;
  final PeerServer peer;

  private Observed(Agent agent, Observability observe, PeerServer peer) {
    this.agent = agent;
    this.observe = observe;
    this.peer = peer;
  }

  static Observed start(Map<String, String> env) {
    return start(env, Observability.STATSD, Observability.STATSD_STEP);
  }

  /** As {@link #start(Map)}, with statsd (when the annotations ask for it) to {@code statsd}. */
  static Observed start(Map<String, String> env, InetSocketAddress statsd, Duration step) {
    Map<String, String> e = new HashMap<>(env);
    e.putIfAbsent("KONTROL_HTTP_PORT", "0");
    e.putIfAbsent("KONTROL_PORT", "0");
    AgentConfig config = AgentConfig.fromEnvironment(e);
    Observability observe = Observability.start(config, statsd, step);
    AgentStatusSource status = new AgentStatusSource(config);
    PeerServer peer = AgentStatusSource.startServer(config, status, observe.events());
    Agent agent = Agent.start(config, observe.events(), peer, observe);
    status.attach(agent);
    observe.attach(agent);
    return new Observed(agent, observe, peer);
  }

  String id() {
    return agent.config().id();
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + observe.port() + path))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  int status(String path) throws IOException, InterruptedException {
    return get(path).statusCode();
  }

  /** GET /metrics, parsed strictly. */
  PrometheusText metrics() throws IOException, InterruptedException {
    HttpResponse<String> r = get("/metrics");
    if (r.statusCode() != 200) {
      throw new IllegalStateException("/metrics answered " + r.statusCode() + ": " + r.body());
    }
    return PrometheusText.parse(r.body());
  }

  double value(String name, Map<String, String> labels) throws IOException, InterruptedException {
    return metrics().value(name, labels).orElseThrow(() -> new AssertionError("no " + name + labels));
  }

  @Override
  public void close() {
    agent.close();
  }
}
