package io.kontrol.proxy.bench;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.kontrol.proxy.Proxy;
import io.kontrol.proxy.ProxyConfig;
import io.kontrol.proxy.kafka.KafkaCluster;
import io.kontrol.proxy.pixy.KafkaPixyGrpc;
import io.kontrol.proxy.pixy.ProdRq;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sync produce through the proxy, over HTTP and over gRPC, side by side with a plain
 * {@link KafkaProducer} configured as the proxy's (acks=all, idempotent, linger 0), in the same
 * run against the same real broker (one KRaft JVM from the Maven jars, topic of 3 partitions).
 * Each client waits for its acknowledgement before the next request; {@code C} clients run at
 * once. Prints requests/s, p50, p99 per (path, C). Args: [requests per client] [C...].
 */
public final class ProduceBench {
  private static final byte[] VALUE = new byte[100];

  interface Client {
    void send(int i) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    int[] concurrency = args.length > 1
        ? Arrays.stream(args).skip(1).mapToInt(Integer::parseInt).toArray() : new int[] {1, 16};
    try (KafkaCluster kafka = KafkaCluster.start(1)) {
      kafka.createTopic("bench", 3, Map.of());
      ProxyConfig config = ProxyConfig.defaults(kafka.bootstrap())
          .withListeners(new InetSocketAddress("127.0.0.1", 0), new InetSocketAddress("127.0.0.1", 0));
      try (Proxy proxy = Proxy.start(config)) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI uri = URI.create("http://127.0.0.1:" + proxy.httpAddress().getPort() + "/topics/bench/messages?sync");
        ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", proxy.grpcAddress().getPort()).usePlaintext().build();
        KafkaPixyGrpc.KafkaPixyBlockingStub grpc = KafkaPixyGrpc.newBlockingStub(ch);
        ProdRq rq = ProdRq.newBuilder().setTopic("bench").setKeyUndefined(true).setMessage(ByteString.copyFrom(VALUE)).build();
        try (KafkaProducer<byte[], byte[]> plain = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
          Client direct = i -> plain.send(new ProducerRecord<>("bench", VALUE)).get(30, TimeUnit.SECONDS);
          Client overHttp = i -> {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(VALUE)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
              throw new IllegalStateException("HTTP " + r.statusCode() + " " + r.body());
            }
          };
          Client overGrpc = i -> grpc.withDeadlineAfter(30, TimeUnit.SECONDS).produce(rq);
          System.out.printf("%-22s %4s %8s %10s %10s %10s%n", "path", "C", "n", "req/s", "p50", "p99");
          for (int c : concurrency) {
            for (String name : List.of("KafkaProducer", "proxy HTTP", "proxy gRPC")) {
              Client client = switch (name) {
                case "KafkaProducer" -> direct;
                case "proxy HTTP" -> overHttp;
                default -> overGrpc;
              };
              run(client, c, Math.max(200, n / 5)); // warm-up
              long[] lat = new long[c * n];
              long start = System.nanoTime();
              run(client, c, n, lat);
              double secs = (System.nanoTime() - start) / 1e9;
              Arrays.sort(lat);
              System.out.printf("%-22s %4d %8d %10.0f %10s %10s%n", name, c, lat.length, lat.length / secs,
                  ms(lat[lat.length / 2]), ms(lat[(int) (lat.length * 0.99)]));
            }
          }
        } finally {
          ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    }
  }

  private static void run(Client client, int c, int n) throws Exception {
    run(client, c, n, new long[c * n]);
  }

  private static void run(Client client, int c, int n, long[] lat) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(c);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < c; t++) {
        int base = t * n;
        fs.add(pool.submit((Callable<Void>) () -> {
          for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            client.send(i);
            lat[base + i] = System.nanoTime() - s;
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get(10, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static String ms(long nanos) {
    return String.format("%.2f ms", nanos / 1e6);
  }
}
