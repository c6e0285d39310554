package io.kontrol.images;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener.Events;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.testcontainers.containers.Network;

/**
 * Benchmark (a main, not a test): three kontrol/nats pods with the NATS request API on; then,
 * RUNS times, a {@code _SAT.nats.config.put} of a new cluster name and extra route, timed from
 * the reply to the moment the last broker tells a new client the new name (its reload), polled
 * every 5 ms on every broker. Prints p50/p99 of that and of the request's round trip, and the
 * client disconnects seen meanwhile (the seed's ConfigMap and reloader took "about a minute").
 *
 * <pre>
 * images/build &amp;&amp; TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost \
 *   mvn -o -q -pl images test-compile exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=io.kontrol.images.NatsConfigBench [-Dexec.args=RUNS] [-Dkontrol.images.tag=TAG]
 * </pre>
 */
public final class NatsConfigBench {
  private static final String TOKEN = "bench-config-token";

  private NatsConfigBench() {}

  public static void main(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    List<NatsPod> pods = new ArrayList<>();
    List<Connection> clients = new ArrayList<>();
    AtomicInteger disconnects = new AtomicInteger();
    try (Network network = Network.newNetwork(); var etcd = LocalImages.etcd(network)) {
      etcd.start();
      for (int i = 1; i <= 3; i++) {
        pods.add(new NatsPod("nats-" + i, network)
            .env("KONTROL_ANNOTATIONS", "{\"nats.unity3d.com/config-api\":\"true\"}")
            .env("KONTROL_TOKEN", TOKEN));
      }
      pods.parallelStream().forEach(NatsPod::start);
      NatsJoinBench.await(() -> NatsPod.meshed(pods), Duration.ofSeconds(60), "3 pods mesh");
      for (NatsPod pod : pods) {
        clients.add(Nats.connect(new Options.Builder()
            .server(pod.clientUrl())
            .ignoreDiscoveredServers()
            .connectionListener((c, e) -> {
              if (e == Events.DISCONNECTED) {
                disconnects.incrementAndGet();
              }
            })
            .build()));
      }
      Connection operator = clients.get(0);
      Headers auth = new Headers().add("Authorization", "Bearer " + TOKEN);
      NatsJoinBench.await(() -> request(operator, auth, "_SAT.nats.config.get", "") != null, Duration.ofSeconds(30), "the API answers");

      List<Long> applied = new ArrayList<>();
      List<Long> replies = new ArrayList<>();
      String current = "nats";
      for (int i = 1; i <= runs; i++) {
        String name = "BENCH_" + i;
        String body = "{\"name\": \"" + name + "\", \"routes\": [\"nats://another-route-" + i + ":6222\"]}";
        long t0 = System.nanoTime();
        String reply = request(operator, auth, "_SAT." + current + ".config.put", body);
        long answered = System.nanoTime();
        if (reply == null || !reply.contains("\"ok\":true")) {
          throw new IllegalStateException("run " + i + ": the put was not accepted: " + reply);
        }
        long[] seen = new long[pods.size()];
        NatsJoinBench.await(() -> {
          boolean all = true;
          for (int p = 0; p < pods.size(); p++) {
            if (seen[p] == 0) {
              if (pods.get(p).clusterName().equals(name)) {
                seen[p] = System.nanoTime();
              } else {
                all = false;
              }
            }
          }
          return all;
        }, Duration.ofSeconds(30), "run " + i + ": every broker runs " + name, 5);
        long last = 0;
        for (long s : seen) {
          last = Math.max(last, s);
        }
        replies.add((answered - t0) / 1_000_000);
        applied.add((last - answered) / 1_000_000);
        current = name;
        System.out.printf("run %d: reply %d ms, last broker reloaded %d ms after the reply%n", i, replies.get(i - 1), applied.get(i - 1));
        // the routes re-form under the new name before the next change
        NatsJoinBench.await(() -> NatsPod.meshed(pods), Duration.ofSeconds(60), "run " + i + ": mesh");
      }
      System.out.printf("_SAT.nats.config.put reply -> last broker runs the new name: p50 %d ms, p99 %d ms, max %d ms (n=%d)%n",
          NatsJoinBench.percentile(applied, 50), NatsJoinBench.percentile(applied, 99), NatsJoinBench.percentile(applied, 100), runs);
      System.out.printf("_SAT.nats.config.put request -> reply: p50 %d ms, p99 %d ms (n=%d)%n",
          NatsJoinBench.percentile(replies, 50), NatsJoinBench.percentile(replies, 99), runs);
      System.out.printf("client disconnects: %d over %d changes (%d clients)%n", disconnects.get(), runs, clients.size());
    } finally {
      for (Connection c : clients) {
        c.close();
      }
      for (NatsPod pod : pods) {
        pod.close();
      }
    }
  }

  private static String request(Connection c, Headers auth, String subject, String body) {
    try {
      Message reply = c.request(NatsMessage.builder().subject(subject).headers(auth)
          .data(body.getBytes(StandardCharsets.UTF_8)).build(), Duration.ofSeconds(5));
      return reply == null ? null : new String(reply.getData(), StandardCharsets.UTF_8);
    } catch (RuntimeException | InterruptedException e) {
      // no responder yet
      return null;
    }
  }
}
