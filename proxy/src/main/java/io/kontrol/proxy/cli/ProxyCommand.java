package io.kontrol.proxy.cli;

import io.kontrol.proxy.Proxy;
import io.kontrol.proxy.ProxyConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kontrol-proxy}: Kafka-Pixy's HTTP (19092) and gRPC (19091) APIs in front of a Kafka
 * cluster. Pixy's own flag names are accepted ({@code --kafkaPeers}, {@code --tcpAddr},
 * {@code --grpcAddr}). Runs until SIGTERM/SIGINT, then stops within a bound.
 */
@Command(
    name = "kontrol-proxy",
    mixinStandardHelpOptions = true,
    version = "kontrol-proxy 0.1.0",
    description = "Kafka-Pixy's HTTP and gRPC API on kafka-clients.")
public final class ProxyCommand implements Callable<Integer> {

  @Option(names = {"--kafkaPeers", "--bootstrap"}, defaultValue = "localhost:9092",
      description = "Kafka bootstrap servers, host:port[,host:port...] (default: ${DEFAULT-VALUE})")
  String bootstrap;

  @Option(names = {"--tcpAddr", "--http"}, defaultValue = "0.0.0.0:19092",
      description = "where the HTTP API listens (default: ${DEFAULT-VALUE})")
  String http;

  @Option(names = {"--grpcAddr", "--grpc"}, defaultValue = "0.0.0.0:19091",
      description = "where the gRPC API listens (default: ${DEFAULT-VALUE})")
  String grpc;

  @Option(names = "--cluster", defaultValue = "default",
      description = "the cluster's name in /clusters/<name>/... and gRPC requests (default: ${DEFAULT-VALUE})")
  String cluster;

  @Option(names = "--long-poll", defaultValue = "3s", converter = DurationConverter.class,
      description = "how long a consume request waits before 408 (default: ${DEFAULT-VALUE})")
  Duration longPoll;

  @Option(names = "--ack-timeout", defaultValue = "5m", converter = DurationConverter.class,
      description = "an unacknowledged message is offered again after this (default: ${DEFAULT-VALUE})")
  Duration ackTimeout;

  @Option(names = "--subscription-timeout", defaultValue = "15s", converter = DurationConverter.class,
      description = "a (group, topic) consumer idle this long leaves the group (default: ${DEFAULT-VALUE})")
  Duration subscriptionTimeout;

  @Option(names = "--max-pending", defaultValue = "300",
      description = "unacknowledged messages per partition before it offers no new ones (default: ${DEFAULT-VALUE})")
  int maxPending;

  @Option(names = "--produce-timeout", defaultValue = "30s", converter = DurationConverter.class,
      description = "a sync produce fails after this, retries included (default: ${DEFAULT-VALUE})")
  Duration produceTimeout;

  @Option(names = "--max-request-bytes", defaultValue = "8388608",
      description = "largest HTTP body read; larger ones get 413 (default: ${DEFAULT-VALUE})")
  int maxRequestBytes;

  @Option(names = "--initial-offset", defaultValue = "latest",
      description = "where a new group starts: latest (Pixy's) or earliest (default: ${DEFAULT-VALUE})")
  String initialOffset;

  @Option(names = {"-k", "--kafka-property"}, paramLabel = "KEY=VALUE",
      description = "a Kafka client property for the producer, consumers and admin client (repeatable)")
  Map<String, String> kafka = new LinkedHashMap<>();

  public static void main(String[] args) {
    System.exit(new CommandLine(new ProxyCommand()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    ProxyConfig c =
        new ProxyConfig(bootstrap, cluster, address("--tcpAddr", http), address("--grpcAddr", grpc), longPoll,
            ackTimeout, subscriptionTimeout, maxPending, Duration.ofMillis(500), produceTimeout, maxRequestBytes,
            initialOffset, kafka);
    Proxy proxy = Proxy.start(c);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      proxy.close();
      stopped.countDown();
    }, "proxy-shutdown"));
    stopped.await();
    return 0;
  }

  static InetSocketAddress address(String option, String value) {
    int colon = value.lastIndexOf(':');
    if (colon < 0) {
      throw new CommandLine.ParameterException(new CommandLine(new ProxyCommand()),
          option + ": expected host:port, got '" + value + "'");
    }
    String host = value.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
      if (port < 0 || port > 65535) {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      throw new CommandLine.ParameterException(new CommandLine(new ProxyCommand()),
          option + ": expected a port from 0 to 65535 in '" + value + "'");
    }
    return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
  }

  /** 250ms, 3s, 5m, 1h, or an ISO-8601 duration (PT3S). */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String v) {
      try {
        if (v.startsWith("P") || v.startsWith("p")) {
          return Duration.parse(v);
        }
        if (v.endsWith("ms")) {
          return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
        }
        long n = Long.parseLong(v.substring(0, v.length() - 1));
        return switch (v.charAt(v.length() - 1)) {
          case 's' -> Duration.ofSeconds(n);
          case 'm' -> Duration.ofMinutes(n);
          case 'h' -> Duration.ofHours(n);
          default -> throw new NumberFormatException();
        };
      } catch (RuntimeException e) {
        throw new CommandLine.TypeConversionException("expected a duration like 250ms, 3s, 5m or 1h, got '" + v + "'");
      }
    }
  }
}
