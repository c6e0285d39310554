package io.kontrol.agent.bench;

import io.kontrol.agent.Agent;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.testing.EtcdCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Leader SIGKILL → the successor's first callback start, at KONTROL_FOVER=5 (damper 0, TTL 5).
 * The leader is a forked {@code kontrol run}; the successor runs in-process.
 *
 * <pre>mvn -o -q -pl agent test-compile exec:java -Dexec.mainClass=io.kontrol.agent.bench.FailoverBench -Dexec.classpathScope=test</pre>
 */
public final class FailoverBench {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    Path dir = Files.createTempDirectory("kontrol-bench-failover");
    List<Long> lat = new ArrayList<>();
    try (EtcdCluster etcd = EtcdCluster.builder().withNodes(1).build()) {
      etcd.start();
      for (int i = 0; i < n; i++) {
        String app = "fo" + i;
        Path calls = dir.resolve("calls" + i);
        Path log = dir.resolve("victim" + i + ".log");
        Map<String, String> victimEnv = BenchSupport.env(etcd, app, "victim", "master,slave");
        victimEnv.put("KONTROL_FOVER", "5");
        victimEnv.put("KONTROL_TTL", "5");
        victimEnv.put("KONTROL_CALLBACK", "echo \"$KONTROL_ID $(date +%s%N)\" >> " + calls + "; echo '{}'");
        Process victim = BenchSupport.fork(victimEnv, log);
        try {
          JoinLatencyBench.await(() -> BenchSupport.logHas(log, "elected"), 30_000);
          Map<String, String> env = new java.util.HashMap<>(victimEnv);
          env.put("KONTROL_ID", "successor");
          try (Agent successor = Agent.start(AgentConfig.fromEnvironment(env))) {
            JoinLatencyBench.await(() -> JoinLatencyBench.lines(calls) >= 2, 20_000); // saw both
            long t0 = JoinLatencyBench.epochNanos();
            victim.destroyForcibly();
            victim.waitFor(5, TimeUnit.SECONDS);
            JoinLatencyBench.await(() -> Files.readString(calls).contains("successor "), 20_000);
            String line =
                Files.readAllLines(calls).stream().filter(l -> l.startsWith("successor ")).findFirst().orElseThrow();
            long ms = (Long.parseLong(line.split(" ")[1]) - t0) / 1_000_000;
            lat.add(ms);
            System.out.println("run " + i + ": leader SIGKILL -> successor's first callback " + ms + " ms");
          }
        } finally {
          victim.destroyForcibly();
        }
      }
    }
    System.out.println("leader SIGKILL -> successor's first callback, FOVER=5: " + BenchSupport.percentiles(lat));
    System.exit(0);
  }
}
