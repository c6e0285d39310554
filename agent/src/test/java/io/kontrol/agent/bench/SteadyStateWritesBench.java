package io.kontrol.agent.bench;

import io.etcd.jetcd.Client;
import io.kontrol.agent.Agent;
import io.kontrol.agent.config.AgentConfig;
import io.kontrol.agent.testing.EtcdCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * etcd writes per pod per minute at steady state: 10 agents (master,slave, TTL 6 so keepalives
 * are frequent) registered and led; then the etcd revision (every write bumps it) and etcd's
 * put/delete/txn counters are read before and after a window.
 *
 * <pre>mvn -o -q -pl agent test-compile exec:java -Dexec.mainClass=io.kontrol.agent.bench.SteadyStateWritesBench -Dexec.classpathScope=test [-Dexec.args=60]</pre>
 */
public final class SteadyStateWritesBench {
  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 60;
    int pods = 10;
    try (EtcdCluster etcd = EtcdCluster.builder().withNodes(1).build()) {
      etcd.start();
      List<Agent> agents = new ArrayList<>();
      try (Client c = etcd.newClient()) {
        for (int i = 0; i < pods; i++) {
          Map<String, String> env = BenchSupport.env(etcd, "steady", "s" + i, "master,slave");
          env.put("KONTROL_TTL", "6");
          env.put("KONTROL_FOVER", "6");
          env.put("KONTROL_CALLBACK", "echo '{}'");
          agents.add(Agent.start(AgentConfig.fromEnvironment(env)));
        }
        JoinLatencyBench.await(
            () -> agents.stream().anyMatch(a -> a.status().lastState().isPresent())
                && agents.stream().allMatch(a -> a.status().records().size() == 1),
            30_000);
        Thread.sleep(3000); // let the last registrations' callback pass settle (not synchronisation)
        long rev0 = revision(c);
        String m0 = metrics(etcd);
        Thread.sleep(seconds * 1000L); // the measured window
        long rev1 = revision(c);
        String m1 = metrics(etcd);
        double perPodPerMinute = (rev1 - rev0) * 60.0 / seconds / pods;
        System.out.printf(
            "steady state, %d pods, %d s: revision %d -> %d, writes per pod per minute = %.2f%n",
            pods, seconds, rev0, rev1, perPodPerMinute);
        System.out.printf(
            "etcd counters over the window: puts %d, deletes %d, txns %d, lease keepalives %d%n",
            counter(m1, "etcd_mvcc_put_total") - counter(m0, "etcd_mvcc_put_total"),
            counter(m1, "etcd_mvcc_delete_total") - counter(m0, "etcd_mvcc_delete_total"),
            counter(m1, "etcd_mvcc_txn_total") - counter(m0, "etcd_mvcc_txn_total"),
            grpcCount(m1, "LeaseKeepAlive") - grpcCount(m0, "LeaseKeepAlive"));
      } finally {
        agents.parallelStream().forEach(Agent::close);
      }
    }
    System.exit(0);
  }

  static long revision(Client c) throws Exception {
    return c.getKVClient().get(BenchSupport.bytes("/")).get(5, TimeUnit.SECONDS).getHeader().getRevision();
  }

  static String metrics(EtcdCluster etcd) throws Exception {
    return HttpClient.newHttpClient()
        .send(HttpRequest.newBuilder(URI.create(etcd.endpoint(0) + "/metrics")).build(), HttpResponse.BodyHandlers.ofString())
        .body();
  }

  static long counter(String metrics, String name) {
    for (String line : metrics.split("\n")) {
      if (line.startsWith(name + " ")) {
        return (long) Double.parseDouble(line.substring(name.length() + 1).trim());
      }
    }
    return -1;
  }

  /** grpc_server_msg_received_total for a method (keepalives are stream messages). */
  static long grpcCount(String metrics, String method) {
    long n = 0;
    for (String line : metrics.split("\n")) {
      if (line.startsWith("grpc_server_msg_received_total{") && line.contains("grpc_method=\"" + method + "\"")) {
        n += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return n;
  }
}
