package io.kontrol.proxy;

import io.kontrol.proxy.kafka.KafkaCluster;
import java.net.InetSocketAddress;
import java.util.function.UnaryOperator;

/**
 * A test class's world: real brokers ({@link KafkaCluster}), one proxy in this JVM on free
 * loopback ports, and its HTTP and gRPC clients; closed in reverse order.
 */
final class ProxyFixture implements AutoCloseable {
  final KafkaCluster kafka;
  final Proxy proxy;
  final ProxyClient client;

  private ProxyFixture(KafkaCluster kafka, Proxy proxy) {
    this.kafka = kafka;
    this.proxy = proxy;
    this.client = new ProxyClient(proxy);
  }

  /** {@code brokers} KRaft nodes, then a proxy with Pixy's defaults as {@code tune} changes them. */
  static ProxyFixture start(int brokers, UnaryOperator<ProxyConfig> tune) throws Exception {
    KafkaCluster kafka = KafkaCluster.start(brokers);
    try {
      ProxyConfig config = tune.apply(ProxyConfig.defaults(kafka.bootstrap())
          .withListeners(new InetSocketAddress("127.0.0.1", 0), new InetSocketAddress("127.0.0.1", 0)));
      return new ProxyFixture(kafka, Proxy.start(config));
    } catch (Exception | Error e) {
      kafka.close();
      throw e;
    }
  }

  @Override
  public void close() {
    try {
      client.close();
      proxy.close();
    } finally {
      kafka.close();
    }
  }
}
