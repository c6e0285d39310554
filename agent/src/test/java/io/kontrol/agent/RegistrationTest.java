package io.kontrol.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.LeaseOption;
import io.kontrol.agent.group.Group;
import io.kontrol.agent.registry.PayloadWatcher;
import io.kontrol.agent.registry.PodRecord;
import io.kontrol.agent.testing.EtcdCluster;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@Timeout(120)
class RegistrationTest {
  @RegisterExtension static final EtcdCluster ETCD = EtcdCluster.builder().withNodes(1).build();
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void kontrolRunLeavesAtOnceAndExitsZeroOnSigterm() throws Exception {
    String app = Pods.app("sigterm");
    Group g = Pods.group(app);
    Map<String, String> env = Pods.env(ETCD, app, app, "p0", "slave");
    env.put("KONTROL_TTL", "60"); // so only leaving (not expiry) can remove the record in time
    env.put("KONTROL_PORT", "0");
    Process run = Pods.kontrolRun(env, dir.resolve("run.log"));
    try {
      await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> Pods.get(ETCD.client(), g.podKey("p0")) != null);
      run.destroy(); // SIGTERM
      assertThat(run.waitFor(20, TimeUnit.SECONDS)).as("exited").isTrue();
      assertThat(run.exitValue()).as(Files.readString(dir.resolve("run.log"))).isZero();
      assertThat(Pods.get(ETCD.client(), g.podKey("p0"))).as("record deleted on the way out").isNull();
    } finally {
      run.destroyForcibly();
    }
  }

  @Test
  void recordIsTheSortedJsonOfTheSpecOnALeaseOfTtl() throws Exception {
    String app = Pods.app("reg");
    Group g = Pods.group(app);
    Map<String, String> env = Pods.env(ETCD, app, app, "p0", "slave");
    env.put("KONTROL_IP", "10.1.2.3");
    try (Agent a = Pods.start(env)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> Pods.get(ETCD.client(), g.podKey("p0")) != null);
      KeyValue kv = Pods.get(ETCD.client(), g.podKey("p0"));
      String json = kv.getValue().toString(java.nio.charset.StandardCharsets.UTF_8);
      JsonNode r = JSON.readTree(json);
      List<String> keys = new ArrayList<>();
      r.fieldNames().forEachRemaining(keys::add);
      assertThat(keys).containsExactly("app", "id", "ip", "key", "nonce", "payload", "role", "seq");
      assertThat(r.get("app").asText()).isEqualTo(app);
      assertThat(r.get("id").asText()).isEqualTo("p0");
      assertThat(r.get("ip").asText()).isEqualTo("10.1.2.3");
      assertThat(r.get("key").asText()).isEqualTo(PodRecord.base62("10.1.2.3"));
      assertThat(r.get("nonce").asText()).isEqualTo(a.nonce()).isNotBlank();
      assertThat(r.get("payload").isObject()).isTrue();
      assertThat(r.get("role").asText()).isEqualTo("test");
      assertThat(r.get("seq").asLong()).isZero();
      assertThat(kv.getLease()).isNotZero();
      long ttl =
          ETCD.client().getLeaseClient().timeToLive(kv.getLease(), LeaseOption.DEFAULT).get(5, TimeUnit.SECONDS).getGrantedTTL();
      assertThat(ttl).isEqualTo(2);
      assertThat(a.status().records()).containsEntry(g, json);
      assertThat(a.status().reportsTo()).containsExactly(g);
    }
  }

  @Test
  void twentyAgentsRegisteringAtOnceGetTwentyDistinctSeqs() throws Exception {
    String app = Pods.app("seq");
    Group g = Pods.group(app);
    ExecutorService pool = Executors.newFixedThreadPool(20);
    List<Agent> agents = Collections.synchronizedList(new ArrayList<>());
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        Map<String, String> env = Pods.env(ETCD, "member", app, "m" + i, "slave");
        fs.add(pool.submit(() -> {
          go.await();
          agents.add(Pods.start(env));
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : fs) {
        f.get(30, TimeUnit.SECONDS);
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> Pods.records(ETCD.client(), g).size() == 20);
      Set<Long> seqs = new HashSet<>();
      for (String json : Pods.records(ETCD.client(), g).values()) {
        seqs.add(JSON.readTree(json).get("seq").asLong());
      }
      assertThat(seqs).hasSize(20);
      assertThat(Collections.max(seqs)).isEqualTo(19L);
      assertThat(seqs).as("dense: 0..19").containsExactlyInAnyOrderElementsOf(
          java.util.stream.LongStream.range(0, 20).boxed().toList());
    } finally {
      Pods.closeAll(agents);
      pool.shutdownNow();
    }
  }

  @Test
  void aReturningIdGetsItsSeqBackAndLeavingRemovesTheRecordAtOnce() throws Exception {
    String app = Pods.app("back");
    Group g = Pods.group(app);
    Agent a = Pods.start(Pods.env(ETCD, "x", app, "kafka-0", "slave"));
    await().atMost(Duration.ofSeconds(10)).until(() -> Pods.get(ETCD.client(), g.podKey("kafka-0")) != null);
    String first = Pods.value(ETCD.client(), g.podKey("kafka-0"));
    a.close();
    // revoked on close: gone now, not after the TTL
    assertThat(Pods.get(ETCD.client(), g.podKey("kafka-0"))).isNull();
    try (Agent b = Pods.start(Pods.env(ETCD, "x", app, "kafka-1", "slave"))) {
      await().atMost(Duration.ofSeconds(10)).until(() -> Pods.get(ETCD.client(), g.podKey("kafka-1")) != null);
      try (Agent again = Pods.start(Pods.env(ETCD, "x", app, "kafka-0", "slave"))) {
        await().atMost(Duration.ofSeconds(10)).until(() -> Pods.get(ETCD.client(), g.podKey("kafka-0")) != null);
        JsonNode before = JSON.readTree(first);
        JsonNode after = JSON.readTree(Pods.value(ETCD.client(), g.podKey("kafka-0")));
        assertThat(after.get("seq")).isEqualTo(before.get("seq"));
        assertThat(after.get("nonce")).isNotEqualTo(before.get("nonce"));
        assertThat(JSON.readTree(Pods.value(ETCD.client(), g.podKey("kafka-1"))).get("seq").asLong()).isEqualTo(1);
      }
    }
  }

  @Test
  void payloadChangesReachTheRecordWithinASecondAndBadJsonKeepsTheLastGood() throws Exception {
    String app = Pods.app("pay");
    Group g = Pods.group(app);
    Path payload = dir.resolve("payload.json");
    Files.writeString(payload, "{\"v\":1}");
    Map<String, String> env = Pods.env(ETCD, "x", app, "p0", "slave");
    env.put("KONTROL_PAYLOAD", payload.toString());
    try (Agent a = Pods.start(env)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> payloadOf(g).equals("{\"v\":1}"));

      // atomic rename, as editors and config tools do
      Path tmp = dir.resolve(".payload.tmp");
      Files.writeString(tmp, "{\"v\":2}");
      Files.move(tmp, payload, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      await().atMost(Duration.ofSeconds(1)).until(() -> payloadOf(g).equals("{\"v\":2}"));

      // invalid JSON: the last good payload stays
      Files.writeString(payload, "{not json");
      Files.writeString(payload, "{\"v\":3}");
      await().atMost(Duration.ofSeconds(1)).until(() -> payloadOf(g).equals("{\"v\":3}"));
      Files.writeString(payload, "{broken");
      Files.delete(payload);
      await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> payloadOf(g).equals("{\"v\":3}"));
    }
  }

  @Test
  void aPayloadFileOf100MiBIsRefusedUnreadAndTheLastGoodStays() throws Exception {
    String app = Pods.app("big");
    Group g = Pods.group(app);
    Path payload = dir.resolve("payload.json");
    Files.writeString(payload, "{\"v\":1}");
    Map<String, String> env = Pods.env(ETCD, "x", app, "p0", "slave");
    env.put("KONTROL_PAYLOAD", payload.toString());
    try (Agent a = Pods.start(env)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> payloadOf(g).equals("{\"v\":1}"));

      // valid JSON, 100 MiB: it would make every record of the group, and every $PODS, that large
      Path big = dir.resolve(".big.tmp");
      try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(big), 1 << 20)) {
        out.write("{\"big\":\"".getBytes(StandardCharsets.US_ASCII));
        byte[] mib = "x".repeat(1 << 20).getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < 100; i++) {
          out.write(mib);
        }
        out.write("\"}".getBytes(StandardCharsets.US_ASCII));
      }
      assertThatThrownBy(() -> PayloadWatcher.read(big)).isInstanceOf(IOException.class)
          .hasMessage("file " + big + " is larger than 64 KiB, the most a payload may be");
      Files.move(big, payload, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(3)).until(() -> payloadOf(g).equals("{\"v\":1}"));
      assertThat(a.status().records()).as("still registered").containsKey(g);

      // the watcher carries on: the next good file is taken
      Files.writeString(payload, "{\"v\":2}");
      await().atMost(Duration.ofSeconds(2)).until(() -> payloadOf(g).equals("{\"v\":2}"));
    }
  }

  @Test
  void payloadFollowsAKubernetesStyleSymlinkSwap() throws Exception {
    String app = Pods.app("k8s");
    Group g = Pods.group(app);
    // ConfigMap volume layout: payload.json -> ..data/payload.json, ..data -> ..v1
    Path v1 = Files.createDirectory(dir.resolve("..v1"));
    Files.writeString(v1.resolve("payload.json"), "{\"gen\":1}");
    Files.createSymbolicLink(dir.resolve("..data"), Path.of("..v1"));
    Path payload = Files.createSymbolicLink(dir.resolve("payload.json"), Path.of("..data/payload.json"));
    Map<String, String> env = Pods.env(ETCD, "x", app, "p0", "slave");
    env.put("KONTROL_PAYLOAD", payload.toString());
    try (Agent a = Pods.start(env)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> payloadOf(g).equals("{\"gen\":1}"));
      Path v2 = Files.createDirectory(dir.resolve("..v2"));
      Files.writeString(v2.resolve("payload.json"), "{\"gen\":2}");
      Path tmpLink = Files.createSymbolicLink(dir.resolve("..data_tmp"), Path.of("..v2"));
      Files.move(tmpLink, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      await().atMost(Duration.ofSeconds(1)).until(() -> payloadOf(g).equals("{\"gen\":2}"));
    }
  }

  private static String payloadOf(Group g) throws Exception {
    String v = Pods.value(ETCD.client(), g.podKey("p0"));
    return v == null ? "" : JSON.readTree(v).get("payload").toString();
  }
}
