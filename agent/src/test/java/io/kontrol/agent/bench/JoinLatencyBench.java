package io.kontrol.agent.bench;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.PutOption;
import io.kontrol.agent.Agent;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Join → callback start, damper 0: a pod's record is written (as its agent's registration does)
 * and the time until the leader's callback process starts is measured (the callback's first act
 * is to write {@code date +%s%N}). Also: a whole in-process agent start → callback start.
 *
 * <pre>mvn -o -q -pl agent test-compile exec:java -Dexec.mainClass=io.kontrol.agent.bench.JoinLatencyBench -Dexec.classpathScope=test</pre>
 */
public final class JoinLatencyBench {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 100;
    Path dir = Files.createTempDirectory("kontrol-bench-join");
    Path calls = dir.resolve("calls");
    try (EtcdCluster etcd = EtcdCluster.builder().withNodes(1).build()) {
      etcd.start();
      String app = "join";
      Group g = new Group("default", app);
      Map<String, String> env = BenchSupport.env(etcd, app, "leader", "master");
      env.put("KONTROL_CALLBACK", "date +%s%N >> " + calls + "; echo '{}'");
      try (Agent leader = Agent.start(AgentConfig.fromEnvironment(env));
          Client c = etcd.newClient()) {
        await(() -> lines(calls) >= 1, 20_000);
        long lease = c.getLeaseClient().grant(60).get(5, TimeUnit.SECONDS).getID();
        List<Long> lat = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          int before = lines(calls);
          String rec = "{\"app\":\"x\",\"id\":\"j" + i + "\",\"ip\":\"127.0.0.9\",\"key\":\"k\",\"nonce\":\"n\",\"payload\":{},\"role\":\"r\",\"seq\":" + (i + 1) + "}";
          long t0 = epochNanos();
          c.getKVClient()
              .put(BenchSupport.bytes(g.podKey("j" + i)), BenchSupport.bytes(rec), PutOption.builder().withLeaseId(lease).build())
              .get(5, TimeUnit.SECONDS);
          await(() -> lines(calls) > before, 10_000);
          List<String> all = Files.readAllLines(calls);
          long started = Long.parseLong(all.get(before).trim());
          lat.add((started - t0) / 1_000_000);
          // let the callback finish before the next join, so each join is measured alone
          await(() -> leader.status().lastDigest().isPresent(), 1000);
          Thread.sleep(20); // spacing between samples, not synchronisation
        }
        System.out.println("join (record written) -> callback start, damper 0: " + BenchSupport.percentiles(lat));

        List<Long> whole = new ArrayList<>();
        for (int i = 0; i < Math.min(20, n); i++) {
          int before = lines(calls);
          long t0 = epochNanos();
          Map<String, String> joinerEnv = BenchSupport.env(etcd, "w", "a" + i, "slave");
          joinerEnv.put("KONTROL_ANNOTATIONS", "{\"kontrol.unity3d.com/master\":\"" + app + "\"}");
          try (Agent joiner = Agent.start(AgentConfig.fromEnvironment(joinerEnv))) {
            await(() -> lines(calls) > before, 10_000);
            long started = Long.parseLong(Files.readAllLines(calls).get(before).trim());
            whole.add((started - t0) / 1_000_000);
          }
          await(() -> lines(calls) > before + 1, 10_000); // the leave
        }
        System.out.println("agent start (in-process, warm JVM) -> callback start, damper 0: " + BenchSupport.percentiles(whole));
      }
    }
    System.exit(0);
  }

  static long epochNanos() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  static int lines(Path f) {
    try {
      return Files.exists(f) ? (int) Files.readAllLines(f).stream().filter(l -> !l.isBlank()).count() : 0;
    } catch (Exception e) {
      return 0;
    }
  }

  interface Check {
    boolean ok() throws Exception;
  }

  static void await(Check c, long millis) throws Exception {
    long end = System.currentTimeMillis() + millis;
    while (!c.ok()) {
      if (System.currentTimeMillis() > end) {
        throw new IllegalStateException("timed out");
      }
      Thread.sleep(1); // a benchmark's poll: 1 ms resolution is part of the measurement error
    }
  }
}
