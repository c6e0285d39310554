package io.kontrol.proxy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * What one proxy serves and how. The defaults are Kafka-Pixy's (ports 19092 HTTP and 19091
 * gRPC, 3 s long poll, 5 min ack timeout, 15 s subscription timeout, 300 pending messages per
 * partition, offsets committed every 500 ms).
 *
 * @param bootstrap Kafka bootstrap servers, {@code host:port[,host:port...]}
 * @param cluster the name of the one cluster served; {@code /clusters/<name>/...} and a gRPC
 *     request's {@code cluster} must be this name (or empty)
 * @param http where the HTTP API listens (port 0: any free port)
 * @param grpc where the gRPC API listens (port 0: any free port)
 * @param longPoll how long a consume request waits for a message before 408
 * @param ackTimeout how long a delivered message may stay unacknowledged before it is offered
 *     again
 * @param subscriptionTimeout a (group, topic) consumer with no request for this long leaves the
 *     group and closes
 * @param maxPending unacknowledged messages per partition after which that partition offers no
 *     new messages until some are acknowledged
 * @param commitInterval how often acknowledged offsets are committed
 * @param produceTimeout how long a sync produce may take, retries included, before it fails
 *     (the producer's {@code delivery.timeout.ms})
 * @param maxRequestBytes the largest HTTP request body read; larger bodies are refused with 413
 *     before they are read. Bodies under it but over the broker's {@code message.max.bytes} get
 *     400 from the broker's own check.
 * @param initialOffset where a group with no committed offset starts: {@code latest} (Pixy's
 *     behaviour) or {@code earliest}
 * @param kafka extra Kafka client properties, applied to the producer, consumers and admin
 *     client
 */
public record ProxyConfig(
    String bootstrap,
    String cluster,
    InetSocketAddress http,
    InetSocketAddress grpc,
    Duration longPoll,
    Duration ackTimeout,
    Duration subscriptionTimeout,
    int maxPending,
    Duration commitInterval,
    Duration produceTimeout,
    int maxRequestBytes,
    String initialOffset,
    Map<String, String> kafka) {

  public static final int DEFAULT_HTTP_PORT = 19092;
  public static final int DEFAULT_GRPC_PORT = 19091;

  public ProxyConfig {
    Objects.requireNonNull(bootstrap, "bootstrap");
    if (bootstrap.isBlank()) {
      throw new IllegalArgumentException("bootstrap servers: expected host:port[,host:port...], got nothing");
    }
    Objects.requireNonNull(cluster, "cluster");
    Objects.requireNonNull(http, "http");
    Objects.requireNonNull(grpc, "grpc");
    positive("long poll", longPoll);
    positive("ack timeout", ackTimeout);
    positive("subscription timeout", subscriptionTimeout);
    positive("commit interval", commitInterval);
    positive("produce timeout", produceTimeout);
    if (maxPending < 1) {
      throw new IllegalArgumentException("max pending messages: expected at least 1, got " + maxPending);
    }
    if (maxRequestBytes < 1) {
      throw new IllegalArgumentException("max request bytes: expected at least 1, got " + maxRequestBytes);
    }
    if (!initialOffset.equals("latest") && !initialOffset.equals("earliest")) {
      throw new IllegalArgumentException(
          "initial offset: expected latest or earliest, got " + initialOffset);
    }
    kafka = Map.copyOf(kafka);
  }

  private static void positive(String what, Duration d) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + ": expected a positive duration, got " + d);
    }
  }

  /** Pixy's defaults against {@code bootstrap}, listening on all interfaces. */
  public static ProxyConfig defaults(String bootstrap) {
    return new ProxyConfig(
        bootstrap,
        "default",
        new InetSocketAddress(DEFAULT_HTTP_PORT),
        new InetSocketAddress(DEFAULT_GRPC_PORT),
        Duration.ofSeconds(3),
        Duration.ofMinutes(5),
        Duration.ofSeconds(15),
        300,
        Duration.ofMillis(500),
        Duration.ofSeconds(30),
        8 * 1024 * 1024,
        "latest",
        Map.of());
  }

  public ProxyConfig withListeners(InetSocketAddress http, InetSocketAddress grpc) {
    return new ProxyConfig(bootstrap, cluster, http, grpc, longPoll, ackTimeout,
        subscriptionTimeout, maxPending, commitInterval, produceTimeout, maxRequestBytes,
        initialOffset, kafka);
  }

  public ProxyConfig withTimeouts(Duration longPoll, Duration ackTimeout, Duration subscriptionTimeout) {
    return new ProxyConfig(bootstrap, cluster, http, grpc, longPoll, ackTimeout,
        subscriptionTimeout, maxPending, commitInterval, produceTimeout, maxRequestBytes,
        initialOffset, kafka);
  }

  public ProxyConfig withInitialOffset(String initialOffset) {
    return new ProxyConfig(bootstrap, cluster, http, grpc, longPoll, ackTimeout,
        subscriptionTimeout, maxPending, commitInterval, produceTimeout, maxRequestBytes,
        initialOffset, kafka);
  }

  public ProxyConfig withProduceTimeout(Duration produceTimeout) {
    return new ProxyConfig(bootstrap, cluster, http, grpc, longPoll, ackTimeout,
        subscriptionTimeout, maxPending, commitInterval, produceTimeout, maxRequestBytes,
        initialOffset, kafka);
  }

  public ProxyConfig withMaxRequestBytes(int maxRequestBytes) {
    return new ProxyConfig(bootstrap, cluster, http, grpc, longPoll, ackTimeout,
        subscriptionTimeout, maxPending, commitInterval, produceTimeout, maxRequestBytes,
        initialOffset, kafka);
  }

  /** Checks a request's cluster name: empty means the one cluster served. */
  public void checkCluster(String name) {
    if (name != null && !name.isEmpty() && !name.equals(cluster)) {
      throw ProxyError.badRequest("unknown cluster: " + name + " (this proxy serves " + cluster + ")");
    }
  }
}
