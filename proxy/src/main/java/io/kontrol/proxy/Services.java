package io.kontrol.proxy;

import io.kontrol.proxy.cluster.Groups;
import io.kontrol.proxy.cluster.Offsets;
import io.kontrol.proxy.cluster.Reachability;
import io.kontrol.proxy.cluster.Topics;
import io.kontrol.proxy.consume.Consumers;
import io.kontrol.proxy.metrics.ProxyMetrics;
import io.kontrol.proxy.produce.Producer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What the two APIs serve from: the one producer, the consumers, the Admin-based views, metrics. */
public record Services(
    ProxyConfig config,
    Producer producer,
    Consumers consumers,
    Topics topics,
    Offsets offsets,
    Groups groups,
    Reachability reachability,
    ProxyMetrics metrics) {

  private static final Logger log = LoggerFactory.getLogger(Services.class);

  /** An async produce (answered before Kafka had it) failed: logged and counted, nobody waits for it. */
  public void asyncFailure(String topic, ProxyError e) {
    metrics.error("async", "produce", e.kind().name().toLowerCase(java.util.Locale.ROOT));
    log.warn("async produce failed topic={}: {}", topic, e.getMessage());
  }
}
