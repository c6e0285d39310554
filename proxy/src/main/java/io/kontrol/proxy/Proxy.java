package io.kontrol.proxy;

import io.kontrol.proxy.cluster.Groups;
import io.kontrol.proxy.cluster.Offsets;
import io.kontrol.proxy.cluster.Reachability;
import io.kontrol.proxy.cluster.Topics;
import io.kontrol.proxy.consume.Consumers;
import io.kontrol.proxy.consume.GroupConsumer;
import io.kontrol.proxy.grpc.GrpcApi;
import io.kontrol.proxy.http.HttpApi;
import io.kontrol.proxy.metrics.ProxyMetrics;
import io.kontrol.proxy.produce.Producer;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxy: Kafka-Pixy's HTTP and gRPC APIs in front of one Kafka cluster. It owns one Admin
 * client, one producer, the (group, topic) consumers and both servers; it starts serving whether or
 * not the cluster answers, and keeps serving (with errors for what needs Kafka) while it does not.
 * {@link #close()} stops the servers first, then the consumers (committing what was acknowledged),
 * then the producer (flushing what was accepted), each within a bound.
 */
public final class Proxy implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(Proxy.class);

  private enum State { STARTED, CLOSED }

  private final AtomicReference<State> state = new AtomicReference<>(State.STARTED);
  private final Deque<Closeable> resources = new ArrayDeque<>();
  private final Services services;
  private final HttpApi http;
  private final GrpcApi grpc;

  private Proxy(ProxyConfig config) throws IOException, InterruptedException {
    try {
      Properties ap = new Properties();
      ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrap());
      ap.put(AdminClientConfig.CLIENT_ID_CONFIG, "kontrol-proxy-admin");
      ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
      ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
      ap.putAll(config.kafka());
      Admin admin = Admin.create(ap);
      resources.push(() -> admin.close(Duration.ofSeconds(5)));
      Topics topics = new Topics(admin, System::nanoTime);
      Reachability reachability = new Reachability(admin, Duration.ofSeconds(5));
      resources.push(reachability);
      Producer producer = new Producer(config.bootstrap(), config.kafka(), config.produceTimeout(),
          config.maxRequestBytes(), topics);
      resources.push(producer);
      Consumers consumers = new Consumers(
          new GroupConsumer.Settings(config.bootstrap(), config.kafka(), config.initialOffset(),
              config.ackTimeout(), config.subscriptionTimeout(), config.maxPending(), config.commitInterval()),
          topics, config.longPoll());
      resources.push(consumers);
      ProxyMetrics metrics = new ProxyMetrics();
      metrics.gauge("kontrol.proxy.consumers", "(group, topic) consumers open", consumers::size);
      metrics.gauge("kontrol.proxy.kafka.reachable", "1 when the last cluster check answered",
          () -> reachability.state().up() ? 1 : 0);
      services = new Services(config, producer, consumers, topics, new Offsets(admin, topics),
          new Groups(admin, topics), reachability, metrics);
      http = new HttpApi(services, config.http());
      resources.push(http);
      grpc = new GrpcApi(services, config.grpc());
      resources.push(grpc);
    } catch (IOException | InterruptedException | RuntimeException e) {
      closeResources();
      throw e;
    }
    log.info("proxy started bootstrap={} cluster={} http={} grpc={}", config.bootstrap(), config.cluster(),
        http.address(), grpc.address());
  }

  /** Starts a proxy; fails (leaving nothing open) if a port cannot be bound. */
  public static Proxy start(ProxyConfig config) throws IOException, InterruptedException {
    return new Proxy(config);
  }

  public InetSocketAddress httpAddress() {
    return http.address();
  }

  public InetSocketAddress grpcAddress() {
    return grpc.address();
  }

  public Services services() {
    return services;
  }

  @Override
  public void close() {
    if (!state.compareAndSet(State.STARTED, State.CLOSED)) {
      return;
    }
    log.info("proxy stopping");
    closeResources();
    log.info("proxy stopped");
  }

  private void closeResources() {
    // last opened first: servers, consumers, producer, health, admin
    while (!resources.isEmpty()) {
      Closeable c = resources.pop();
      try {
        c.close();
      } catch (IOException | RuntimeException e) {
        log.warn("close {}: {}", c.getClass().getSimpleName(), e.toString());
      }
    }
  }
}
