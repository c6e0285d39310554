package io.kontrol.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.proxy.ProxyClient.Answer;
import io.kontrol.proxy.kafka.KafkaCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Sync produces through the proxy while the brokers are rolled answer 200 every time: three
 * broker+controller JVMs, a topic with replication factor 3 and min.insync.replicas 2, two clients
 * producing without pause while each broker in turn is stopped (SIGTERM, controlled shutdown) and
 * started again, the next one only once every partition has its three in-sync replicas back.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class RollingRestartTest {
  static ProxyFixture fx;
  static KafkaCluster kafka;
  static ProxyClient client;

  @BeforeAll
  static void start() throws Exception {
    fx = ProxyFixture.start(3, c -> c);
    kafka = fx.kafka;
    client = fx.client;
    kafka.createTopic("rolled", 3, Map.of("min.insync.replicas", "2"));
  }

  @AfterAll
  static void stop() {
    if (fx != null) {
      fx.close();
    }
  }

  @Test
  void syncProducesAnswer200EveryTimeWhileEveryBrokerIsRolled() throws Exception {
    AtomicBoolean rolling = new AtomicBoolean(true);
    AtomicInteger seq = new AtomicInteger();
    ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    Set<String> acked = ConcurrentHashMap.newKeySet();
    AtomicInteger oks = new AtomicInteger();
    List<Thread> producers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Thread t = new Thread(() -> {
        while (rolling.get()) {
          int n = seq.incrementAndGet();
          Answer a = client.post("/topics/rolled/messages?sync&key=k" + n, "m" + n);
          if (a.status() != 200) {
            failures.add(n + ": " + a.status() + " " + a.body());
          } else {
            oks.incrementAndGet();
            acked.add(a.json().get("partition").asInt() + "@" + a.json().get("offset").asLong());
          }
        }
      }, "roll-producer-" + i);
      t.start();
      producers.add(t);
    }
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> acked.size() >= 20);
      for (int id = 1; id <= kafka.size(); id++) {
        int before = acked.size();
        kafka.stop(id);
        kafka.restart(id);
        await("broker back in every ISR").atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
            .ignoreExceptions().until(() -> {
              List<TopicPartitionInfo> ps = kafka.admin().describeTopics(List.of("rolled")).allTopicNames()
                  .get(10, TimeUnit.SECONDS).get("rolled").partitions();
              return ps.stream().allMatch(p -> p.isr().size() == 3);
            });
        int during = acked.size() - before;
        assertThat(during).as("produces acknowledged while broker " + id + " rolled").isPositive();
      }
    } finally {
      rolling.set(false);
      for (Thread t : producers) {
        t.join(TimeUnit.SECONDS.toMillis(60));
      }
    }
    assertThat(failures).as("non-200 answers during the roll").isEmpty();
    // every 200 names its own (partition, offset): no answer was given twice for one write
    assertThat(acked).hasSize(oks.get());
    assertThat(acked.size()).isGreaterThan(50);
  }
}
