package io.kontrol.proxy.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The proxy's metrics, in Micrometer (served in Prometheus' text format on {@code GET /metrics}):
 * named as the agent's are ({@code kontrol.<area>.<what>}):
 * {@code kontrol_proxy_requests_seconds} (a timer per api, endpoint and status, with p50 and p99),
 * {@code kontrol_proxy_errors_total} (per api, endpoint and error kind), gauges such as
 * {@code kontrol_proxy_consumers}, and the JVM's memory, threads and uptime.
 */
public final class ProxyMetrics {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<List<String>, Timer> timers = new ConcurrentHashMap<>();
  private final Map<List<String>, Counter> errors = new ConcurrentHashMap<>();

  public ProxyMetrics() {
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  /** Records one answered request: {@code api} http or grpc, {@code status} the HTTP status it maps to. */
  public void request(String api, String endpoint, int status, long nanos) {
    timers
        .computeIfAbsent(
            List.of(api, endpoint, Integer.toString(status)),
            k ->
                Timer.builder("kontrol.proxy.requests")
                    .description("requests answered, by api, endpoint and status")
                    .tags("api", api, "endpoint", endpoint, "status", k.get(2))
                    .publishPercentiles(0.5, 0.99)
                    .register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  /** Counts one failed request by the kind of its error (long poll timeouts included). */
  public void error(String api, String endpoint, String kind) {
    errors
        .computeIfAbsent(
            List.of(api, endpoint, kind),
            k ->
                Counter.builder("kontrol.proxy.errors")
                    .description("requests that failed, by api, endpoint and error kind")
                    .tags("api", api, "endpoint", endpoint, "kind", kind)
                    .register(registry))
        .increment();
  }

  public void gauge(String name, String description, Supplier<Number> value) {
    io.micrometer.core.instrument.Gauge.builder(name, value).description(description).register(registry);
  }

  /** Every metric in Prometheus' text exposition format. */
  public String scrape() {
    return registry.scrape();
  }
}
