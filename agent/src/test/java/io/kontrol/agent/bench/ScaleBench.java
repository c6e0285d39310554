package io.kontrol.agent.bench;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import io.kontrol.agent.callback.CallbackScheduler;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.testing.EtcdCluster;
import io.kontrol.agent.watch.GroupView;
import io.kontrol.agent.watch.Snapshot;
import io.kontrol.agent.watch.SnapshotReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A group of 100, 1,000 and 10,000 records in a real etcd (written by the benchmark, as that many
 * agents' registrations would be), and one leader: {@code kontrol run} in a JVM of its own.
 *
 * <ul>
 *   <li>whole read: the group read in one transaction, ordered by seq and digested, as the leader
 *       does once per term and after a compaction, in this JVM with the leader's classes;
 *   <li>pass: after one join, the leader's pass from its {@link GroupView} (records in memory,
 *       state, members and configuration read), ordering, digest, {@code $PODS} and {@code
 *       $PODS_FILE}, on the view's own loop;
 *   <li>join: one record written → the leader's callback process starts (damper 0);
 *   <li>the leader's RSS with the group;
 *   <li>etcd writes per pod per minute at steady state (revision delta over the window).
 * </ul>
 *
 * <pre>mvn -o -q -pl agent test-compile exec:java -Dexec.mainClass=io.kontrol.agent.bench.ScaleBench -Dexec.classpathScope=test [-Dexec.args="100,1000,10000 60"]</pre>
 */
public final class ScaleBench {
  public static void main(String[] args) throws Exception {
    String sizes = args.length > 0 ? args[0] : "100,1000,10000";
    int window = args.length > 1 ? Integer.parseInt(args[1]) : 60;
    for (String n : sizes.split(",")) {
      run(Integer.parseInt(n.trim()), window);
    }
    System.exit(0);
  }

  static String record(String id, long seq) {
    long ip = 0x0a000000L + seq;
    return "{\"app\":\"member\",\"id\":\"" + id + "\",\"ip\":\"" + (ip >> 24) + "." + ((ip >> 16) & 255) + "." + ((ip >> 8) & 255)
        + "." + (ip & 255) + "\",\"key\":\"k" + seq + "\",\"nonce\":\"" + Long.toHexString(seq * 0x9E3779B97F4A7C15L)
        + "\",\"payload\":{},\"role\":\"member\",\"seq\":" + seq + "}";
  }

  static void run(int n, int window) throws Exception {
    Path dir = Files.createTempDirectory("kontrol-bench-scale");
    Path calls = dir.resolve("calls");
    String app = "scale";
    Group g = new Group("default", app);
    try (EtcdCluster etcd = EtcdCluster.builder().withNodes(1).build()) {
      etcd.start();
      try (Client c = etcd.newClient()) {
        KV kv = c.getKVClient();
        long lease = c.getLeaseClient().grant(3600).get(5, TimeUnit.SECONDS).getID();
        PutOption withLease = PutOption.builder().withLeaseId(lease).build();
        long t0 = System.nanoTime();
        for (int from = 1; from <= n; from += 100) {
          List<Op> puts = new ArrayList<>();
          for (int i = from; i < Math.min(n + 1, from + 100); i++) {
            String id = String.format("m%05d", i);
            puts.add(Op.put(BenchSupport.bytes(g.podKey(id)), BenchSupport.bytes(record(id, i)), withLease));
          }
          kv.txn().Then(puts.toArray(new Op[0])).commit().get(30, TimeUnit.SECONDS);
        }
        System.out.printf("%d records written in %d ms%n", n, (System.nanoTime() - t0) / 1_000_000);

        // a whole read of the group, as the leader does once per term (and after a compaction)
        SnapshotReader reader = new SnapshotReader(kv, Duration.ofSeconds(30));
        List<Long> full = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
          long s0 = System.nanoTime();
          Snapshot s = reader.read(g);
          long took = System.nanoTime() - s0;
          if (s.pods().size() != n) {
            throw new IllegalStateException("read " + s.pods().size() + " of " + n);
          }
          if (i >= 5) {
            full.add(took / 1_000_000);
          }
        }
        System.out.printf("n=%d whole group read + order + digest (start of a term, compaction): %s%n", n,
            BenchSupport.percentiles(full));

        // the leader's pass after one change, minus the callback itself: on the view's own loop, as
        // the leader does it (the view holds the records; the state, members and config are read)
        ScheduledExecutorService loop = CallbackScheduler.loop(g.toString());
        AtomicLong applied = new AtomicLong();
        GroupView view = new GroupView(c, g, loop, () -> applied.incrementAndGet(), Duration.ofSeconds(30)).start();
        List<Long> pass = new ArrayList<>();
        long podsBytes = 0;
        try {
          JoinLatencyBench.await(() -> view.reads() == 1, 60_000);
          for (int i = 0; i < 45; i++) {
            String id = "v" + i;
            long rev = kv.put(BenchSupport.bytes(g.podKey(id)), BenchSupport.bytes(record(id, n + 100 + i)), withLease)
                .get(5, TimeUnit.SECONDS).getHeader().getRevision();
            JoinLatencyBench.await(() -> loop.submit(view::revision).get() >= rev, 30_000);
            long[] result = loop.submit(() -> {
              long s0 = System.nanoTime();
              Snapshot s = view.snapshot(reader);
              Path podsFile = Files.createTempFile(dir, "kontrol-pods-", ".json");
              Files.writeString(podsFile, s.podsJson());
              long bytes = s.podsJson().getBytes(StandardCharsets.UTF_8).length;
              Map<String, String> env = new java.util.HashMap<>();
              env.put("PODS_FILE", podsFile.toString());
              if (bytes < 128 * 1024) {
                env.put("PODS", s.podsJson());
              }
              env.put("MD5", s.md5());
              long took = System.nanoTime() - s0;
              Files.delete(podsFile);
              return new long[] {took, bytes, s.pods().size()};
            }).get(30, TimeUnit.SECONDS);
            podsBytes = result[1];
            if (result[2] != n + i + 1) {
              throw new IllegalStateException("the view holds " + result[2] + " of " + (n + i + 1));
            }
            if (i >= 5) {
              pass.add(result[0] / 1_000_000);
            }
          }
          if (view.reads() != 1) {
            throw new IllegalStateException("the view read the group " + view.reads() + " times");
          }
        } finally {
          view.close();
          loop.shutdownNow();
        }
        System.out.printf("n=%d pass from the view: state read + order + digest + $PODS/$PODS_FILE (%d KiB): %s%n", n,
            podsBytes >> 10, BenchSupport.percentiles(pass));
        kv.delete(BenchSupport.bytes(g.podsPrefix() + "v"), io.etcd.jetcd.options.DeleteOption.builder().isPrefix(true).build())
            .get(5, TimeUnit.SECONDS);

        Map<String, String> env = BenchSupport.env(etcd, app, "leader", "master");
        env.put("KONTROL_CALLBACK", "date +%s%N >> " + calls + "; echo '{}'");
        env.put("KONTROL_HTTP_PORT", "0");
        env.put("KONTROL_PORT", "0");
        Path log = dir.resolve("leader.log");
        long f0 = System.nanoTime();
        Process leader = BenchSupport.fork(env, log);
        try {
          JoinLatencyBench.await(() -> JoinLatencyBench.lines(calls) >= 1, 120_000);
          System.out.printf("n=%d leader JVM start -> first callback with the whole group: %d ms%n", n,
              (System.nanoTime() - f0) / 1_000_000);
          List<Long> joins = new ArrayList<>();
          for (int i = 0; i < 25; i++) {
            int before = JoinLatencyBench.lines(calls);
            String id = "j" + i;
            long start = JoinLatencyBench.epochNanos();
            kv.put(BenchSupport.bytes(g.podKey(id)), BenchSupport.bytes(record(id, n + 1 + i)), withLease).get(5, TimeUnit.SECONDS);
            JoinLatencyBench.await(() -> JoinLatencyBench.lines(calls) > before, 30_000);
            long started = Long.parseLong(Files.readAllLines(calls).get(before).trim());
            joins.add((started - start) / 1_000_000);
            Thread.sleep(300); // spacing: the callback and its state write finish (not synchronisation)
          }
          System.out.printf("n=%d join -> callback start, damper 0: %s%n", n, BenchSupport.percentiles(joins));
          System.out.printf("n=%d leader RSS: %d MiB (-Xmx96m)%n", n, rssKib(leader.pid()) >> 10);

          long rev0 = SteadyStateWritesBench.revision(c);
          Thread.sleep(window * 1000L); // the measured window
          long rev1 = SteadyStateWritesBench.revision(c);
          System.out.printf("n=%d steady state %d s: revision %d -> %d, writes per pod per minute = %.4f; leader RSS %d MiB%n",
              n, window, rev0, rev1, (rev1 - rev0) * 60.0 / window / (n + 25), rssKib(leader.pid()) >> 10);
        } finally {
          leader.destroy();
          if (!leader.waitFor(30, TimeUnit.SECONDS)) {
            leader.destroyForcibly();
          }
        }
      }
    }
  }

  static long rssKib(long pid) throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }
}
