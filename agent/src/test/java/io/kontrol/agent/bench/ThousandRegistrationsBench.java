package io.kontrol.agent.bench;

import io.etcd.jetcd.Client;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.registry.Registration;
import io.kontrol.agent.testing.EtcdCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * 1,000 registrations into one group: a forked leader ({@code kontrol run}, master, damper 0, no
 * callback: it logs each pass with the pod count) and 1,000 registrations in this JVM on one etcd
 * client. Measures the time from the first registration until the leader's snapshot holds all
 * 1,000, and the leader's CPU time meanwhile (from /proc).
 *
 * <pre>mvn -o -q -pl agent test-compile exec:java -Dexec.mainClass=io.kontrol.agent.bench.ThousandRegistrationsBench -Dexec.classpathScope=test</pre>
 */
public final class ThousandRegistrationsBench {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    Path dir = Files.createTempDirectory("kontrol-bench-1000");
    Path log = dir.resolve("leader.log");
    try (EtcdCluster etcd = EtcdCluster.builder().withNodes(1).build()) {
      etcd.start();
      Map<String, String> env = BenchSupport.env(etcd, "big", "leader", "master");
      Process leader = BenchSupport.fork(env, log);
      try (Client c = etcd.newClient()) {
        JoinLatencyBench.await(() -> BenchSupport.logHas(log, "group changed"), 30_000);
        long cpu0 = BenchSupport.cpuTicks(leader.pid());
        Group g = new Group("default", "big");
        long t0 = System.nanoTime();
        List<Registration> regs =
            IntStream.range(0, n)
                .parallel()
                .mapToObj(
                    i ->
                        new Registration(
                                c,
                                new Registration.Pod("member", "m" + i, "127.0." + (i / 250) + "." + (1 + i % 250), "bench", "n" + i),
                                List.of(g),
                                Duration.ofSeconds(30),
                                Optional.empty())
                            .start())
                .collect(Collectors.toList());
        JoinLatencyBench.await(() -> BenchSupport.logHas(log, "pods=" + n + " "), 120_000);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        long cpu = BenchSupport.cpuTicks(leader.pid()) - cpu0;
        long passes =
            Files.readAllLines(log).stream().filter(l -> l.contains("group changed")).count() - 1;
        System.out.printf(
            "%d registrations into one group: leader's snapshot holds all %d after %d ms; leader CPU %.2f s over it (%d passes)%n",
            n, n, ms, cpu / 100.0, passes);
        regs.parallelStream().forEach(Registration::close); // before the shared client closes
      } finally {
        leader.destroy();
        leader.waitFor();
      }
    }
    System.exit(0);
  }
}
