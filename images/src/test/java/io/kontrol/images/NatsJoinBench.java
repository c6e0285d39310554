package io.kontrol.images;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener.Events;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * Benchmark (a main, not a test): three kontrol/nats pods with a real client each; then, RUNS
 * times, {@code docker run} of a 4th pod timed until every broker shows its route, and {@code
 * docker stop} of it until it is gone from every broker. Prints p50/p99 of the join, the client
 * disconnects per reconfiguration, and the image sizes.
 *
 * <pre>
 * images/build &amp;&amp; TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost \
 *   mvn -o -q -pl images test-compile exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=io.kontrol.images.NatsJoinBench [-Dexec.args=RUNS]
 * </pre>
 */
public final class NatsJoinBench {

  private NatsJoinBench() {}

  public static void main(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    LocalImages.require(LocalImages.NATS, LocalImages.ETCD);
    List<NatsPod> pods = new ArrayList<>();
    List<Connection> clients = new ArrayList<>();
    AtomicInteger disconnects = new AtomicInteger();
    try (Network network = Network.newNetwork();
        GenericContainer<?> etcd =
            new GenericContainer<>(LocalImages.ETCD)
                .withNetwork(network)
                .withNetworkAliases("etcd")
                .waitingFor(Wait.forLogMessage(".*ready to serve client requests.*", 1))) {
      etcd.start();
      List<NatsPod> three = List.of(new NatsPod("nats-1", network), new NatsPod("nats-2", network), new NatsPod("nats-3", network));
      pods.addAll(three);
      three.parallelStream().forEach(NatsPod::start);
      await(() -> NatsPod.meshed(three), Duration.ofSeconds(60), "3 pods mesh");
      for (NatsPod pod : three) {
        clients.add(
            Nats.connect(
                new Options.Builder()
                    .server(pod.clientUrl())
                    .ignoreDiscoveredServers()
                    .connectionListener(
                        (c, e) -> {
                          if (e == Events.DISCONNECTED) {
                            disconnects.incrementAndGet();
                          }
                        })
                    .build()));
      }

      List<Long> joins = new ArrayList<>();
      List<Long> leaves = new ArrayList<>();
      for (int i = 1; i <= runs; i++) {
        NatsPod fourth = new NatsPod("nats-4-" + i, network);
        pods.add(fourth);
        List<NatsPod> four = new ArrayList<>(three);
        four.add(fourth);
        long t0 = System.nanoTime();
        fourth.start();
        await(() -> NatsPod.meshed(four), Duration.ofSeconds(120), "4th pod routed");
        joins.add((System.nanoTime() - t0) / 1_000_000);

        t0 = System.nanoTime();
        fourth.stop();
        await(() -> NatsPod.meshed(three), Duration.ofSeconds(120), "4th pod dropped");
        leaves.add((System.nanoTime() - t0) / 1_000_000);
        // let the leader's callback settle before the next run
        await(() -> three.stream().allMatch(p -> !p.brokerConfig().contains(fourth.ip() + ":4244")), Duration.ofSeconds(60), "configs");
        System.out.printf("run %d: join %d ms, leave %d ms%n", i, joins.get(i - 1), leaves.get(i - 1));
      }
      System.out.printf("docker run -> every broker routes to the 4th pod: p50 %d ms, p99 %d ms (n=%d)%n",
          percentile(joins, 50), percentile(joins, 99), runs);
      System.out.printf("docker stop -> every broker dropped its route: p50 %d ms, p99 %d ms (n=%d)%n",
          percentile(leaves, 50), percentile(leaves, 99), runs);
      System.out.printf("client disconnects: %d over %d reconfigurations (%d clients) = %.2f per reconfiguration%n",
          disconnects.get(), 2 * runs, clients.size(), disconnects.get() / (2.0 * runs));
      for (String image : List.of("kontrol/base:" + LocalImages.TAG, LocalImages.NATS, LocalImages.ETCD)) {
        long size = DockerClientFactory.instance().client().inspectImageCmd(image).exec().getSize();
        System.out.printf("image %s: %d MB%n", image, size / 1_000_000);
      }
    } finally {
      for (Connection c : clients) {
        c.close();
      }
      for (NatsPod pod : pods) {
        pod.close();
      }
    }
  }

  /** The {@code p}th percentile (nearest rank) of {@code values}. */
  static long percentile(List<Long> values, int p) {
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(index, sorted.size() - 1)));
  }

  /** Polls {@code condition} every 100 ms until it holds; fails after {@code within}. */
  static void await(java.util.function.BooleanSupplier condition, Duration within, String what)
      throws InterruptedException {
    await(condition, within, what, 100);
  }

  /** Polls {@code condition} every {@code everyMs} until it holds; fails after {@code within}. */
  static void await(java.util.function.BooleanSupplier condition, Duration within, String what, long everyMs)
      throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(what + ": not within " + within.toSeconds() + " s");
      }
      // polling an HTTP endpoint of other processes: nothing to be notified by
      Thread.sleep(everyMs);
    }
  }
}
