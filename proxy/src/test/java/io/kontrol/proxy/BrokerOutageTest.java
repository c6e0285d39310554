package io.kontrol.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kontrol.proxy.ProxyClient.Answer;
import io.kontrol.proxy.kafka.KafkaCluster;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The broker goes down and comes back (same ports, same data, as a restarted pod): requests that
 * need Kafka fail with a clear 500 (or 408 for a long poll) in bounded time, the rest keep being
 * served, and everything works again once the broker is back, without restarting the proxy.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BrokerOutageTest {
  static final Duration PRODUCE_TIMEOUT = Duration.ofSeconds(5);

  static ProxyFixture fx;
  static KafkaCluster kafka;
  static ProxyClient client;

  @BeforeAll
  static void start() throws Exception {
    fx = ProxyFixture.start(1, c -> c.withInitialOffset("earliest").withProduceTimeout(PRODUCE_TIMEOUT));
    kafka = fx.kafka;
    client = fx.client;
    kafka.createTopic("outage", 1, Map.of());
  }

  @AfterAll
  static void stop() {
    if (fx != null) {
      fx.close();
    }
  }

  @Test
  void theProxyKeepsServingWhileTheBrokerIsDownAndReconnectsWhenItIsBack() throws Exception {
    assertThat(client.post("/topics/outage/messages?sync", "before").status()).isEqualTo(200);
    Answer first = client.get("/topics/outage/messages?group=o");
    assertThat(first.status()).as(first.body()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(client.get("/topics/outage/offsets?group=o").json().get(0).get("lag").asLong()).isZero());

    kafka.stop(1);

    long start = System.nanoTime();
    Answer down = client.post("/topics/outage/messages?sync", "during");
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertThat(down.status()).as(down.body()).isEqualTo(500);
    assertThat(down.json().get("error").asText()).startsWith("kafka: ");
    assertThat(took).isLessThan(PRODUCE_TIMEOUT.plusSeconds(10));

    // what needs no broker is still served; health says why it is degraded
    assertThat(client.get("/_ping").body()).isEqualTo("pong");
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
      Answer h = client.get("/health");
      assertThat(h.status()).isEqualTo(503);
      assertThat(h.json().get("kafka").asText()).isEqualTo("unreachable");
    });
    Answer offsets = client.get("/topics/outage/offsets?group=o");
    assertThat(offsets.status()).isEqualTo(500);
    assertThat(offsets.json().get("error").asText()).startsWith("kafka: ");
    assertThat(client.get("/topics/outage/messages?group=o").status()).isEqualTo(408);

    kafka.restart(1);

    await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
        assertThat(client.post("/topics/outage/messages?sync", "after").status()).isEqualTo(200));
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(client.get("/health").status()).isEqualTo(200));
    // the group resumes where it was: the next message after "before". Until the group has
    // formed again (a member that could not leave during the outage must time out first, 10 s)
    // a consume is a 408, and a client polls again, as with Pixy.
    long resumed = System.nanoTime();
    Answer next;
    do {
      next = client.get("/topics/outage/messages?group=o");
    } while (next.status() == 408 && System.nanoTime() - resumed < TimeUnit.SECONDS.toNanos(60));
    assertThat(next.status()).as(next.body()).isEqualTo(200);
    assertThat(next.json().get("offset").asLong()).isEqualTo(1);
  }
}
