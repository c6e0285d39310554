package io.kontrol.images;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;

/**
 * Benchmark (a main, not a test): three kontrol/kafka pods and the test etcd on a Docker network.
 * Prints the time from {@code docker run} of the 3 pods to a produce-ready cluster (3 voters, 3
 * unfenced brokers, a topic of RF 3 created and written with acks=all); the produce throughput of
 * {@code kafka-producer-perf-test.sh} (acks=all, from a client container) before a roll and
 * during a roll of every broker by the group's leader (a read-only override changed); and the
 * time per broker in that roll (the pods' own log lines: restart -> RUNNING, and the leader's
 * wait until it is back in every ISR).
 *
 * <pre>
 * images/build --tag V base kafka etcd
 * JAVA_OPTS=-Dkontrol.images.tag=V scripts/bench images io.kontrol.images.KafkaBench [RECORDS]
 * </pre>
 */
public final class KafkaBench {

  private KafkaBench() {}

  private static final Pattern PERF =
      Pattern.compile("(\\d+) records sent, ([\\d.]+) records/sec \\(([\\d.]+) MB/sec\\), ([\\d.]+) ms avg latency, ([\\d.]+) ms max latency, (\\d+) ms 50th, (\\d+) ms 95th, (\\d+) ms 99th");
  private static final Pattern RUNNING = Pattern.compile("kafka restart: broker pid \\d+ RUNNING (\\d+) ms after the stop began");

  public static void main(String[] args) throws Exception {
    int records = args.length > 0 ? Integer.parseInt(args[0]) : 50_000;
    LocalImages.require(LocalImages.KAFKA, LocalImages.ETCD);
    List<KafkaPod> pods = new ArrayList<>();
    GenericContainer<?> client = null;
    try (Network network = Network.newNetwork();
        GenericContainer<?> etcd = LocalImages.etcd(network)) {
      etcd.start();
      for (int i = 0; i < 3; i++) {
        pods.add(new KafkaPod("kafka-" + i, network, KafkaClusterIT.OVERRIDES));
      }
      long t0 = System.nanoTime();
      ExecutorService starter = Executors.newFixedThreadPool(3, r -> new Thread(r, "kafka-bench-start"));
      try {
        CompletableFuture.allOf(pods.stream().map(p -> CompletableFuture.runAsync(p::start, starter)).toArray(CompletableFuture[]::new))
            .get(5, TimeUnit.MINUTES);
      } finally {
        starter.shutdownNow();
      }
      KafkaPod first = pods.get(0);
      await(
          () ->
              KafkaPod.voters(first.quorumStatus()).size() == 3
                  && first.unfencedBrokers().size() == 3
                  && first.exec("kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--create", "--if-not-exists", "--topic", "bench", "--replication-factor", "3").getExitCode() == 0
                  && produce(first, "ready") == 0,
          Duration.ofMinutes(10),
          "a produce-ready cluster");
      long ready = (System.nanoTime() - t0) / 1_000_000;
      System.out.printf("docker run of 3 pods -> produce-ready cluster (3 voters, 3 unfenced brokers, RF 3 topic written with acks=all): %d ms%n", ready);

      client = KafkaPod.client(network);
      String before = perf(client, records);
      System.out.println("perf-test before the roll: " + before);

      // the roll: a read-only key changed on every pod, as a new pod template gives every pod
      String rolled = KafkaClusterIT.OVERRIDES.replaceFirst("(?m)^num\\.partitions=3$", "num.partitions=5");
      List<Long> pids = new ArrayList<>();
      for (KafkaPod p : pods) {
        pids.add(p.brokerPid());
        p.podinfo(rolled);
      }
      long r0 = System.nanoTime();
      List<String> during = new ArrayList<>();
      while (!rolled(pods, pids)) {
        during.add(perf(client, records));
        System.out.println("perf-test during the roll: " + during.get(during.size() - 1));
        if (System.nanoTime() - r0 > TimeUnit.MINUTES.toNanos(15)) {
          throw new IllegalStateException("the roll did not end within 15 min");
        }
      }
      long roll = (System.nanoTime() - r0) / 1_000_000;
      List<Long> perBroker = new ArrayList<>();
      for (KafkaPod p : pods) {
        Matcher m = RUNNING.matcher(p.logs());
        while (m.find()) {
          perBroker.add(Long.parseLong(m.group(1)));
        }
      }
      Collections.sort(perBroker);
      System.out.printf("roll of 3 brokers: %d ms from the annotation change to the last broker back (perf-tests ran meanwhile: %d)%n", roll, during.size());
      System.out.printf("per broker, restart -> RUNNING: %s ms%n", perBroker);
      System.out.println("leader's log, per broker (restart began -> back in every ISR):");
      pods.forEach(p -> p.logs().lines().filter(l -> l.contains("is back in every ISR")).forEach(l -> System.out.println("  " + l)));
    } finally {
      if (client != null) {
        client.stop();
      }
      pods.forEach(KafkaPod::close);
    }
  }

  /** Whether every broker runs a new JVM and no pod waits for a restart. */
  private static boolean rolled(List<KafkaPod> pods, List<Long> pids) {
    for (int i = 0; i < pods.size(); i++) {
      long pid = pods.get(i).brokerPid();
      if (pid == 0 || pid == pids.get(i) || pods.get(i).payload().contains("restart_pending")) {
        return false;
      }
    }
    return true;
  }

  private static int produce(KafkaPod pod, String value) {
    return pod.exec("sh", "-c", "echo " + value + " | kafka-console-producer.sh --bootstrap-server localhost:9092 --topic bench --producer-property acks=all").getExitCode();
  }

  /** {@code kafka-producer-perf-test.sh} with acks=all at full speed; its summary line. */
  private static String perf(GenericContainer<?> client, int records) throws Exception {
    ExecResult r =
        client.execInContainer(
            "kafka-producer-perf-test.sh", "--topic", "bench", "--num-records", String.valueOf(records), "--record-size", "100",
            "--throughput", "-1", "--producer-props", "acks=all", "bootstrap.servers=kafka-0:9092,kafka-1:9092,kafka-2:9092");
    Matcher m = PERF.matcher(r.getStdout());
    String last = null;
    while (m.find()) {
      last = m.group();
    }
    return last == null ? "no summary (exit " + r.getExitCode() + "): " + r.getStderr().lines().reduce((a, b) -> b).orElse("") : last;
  }

  private static void await(BooleanSupplier condition, Duration within, String what) throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no " + what + " within " + within.toSeconds() + " s");
      }
      TimeUnit.MILLISECONDS.sleep(500);
    }
  }
}
