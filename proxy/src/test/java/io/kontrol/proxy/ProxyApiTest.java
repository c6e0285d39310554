package io.kontrol.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.kontrol.proxy.ProxyClient.Answer;
import io.kontrol.proxy.kafka.KafkaCluster;
import io.kontrol.proxy.pixy.AckRq;
import io.kontrol.proxy.pixy.ConsNAckRq;
import io.kontrol.proxy.pixy.ConsRs;
import io.kontrol.proxy.pixy.GetOffsetsRq;
import io.kontrol.proxy.pixy.GetTopicMetadataRq;
import io.kontrol.proxy.pixy.ListConsumersRq;
import io.kontrol.proxy.pixy.ListTopicRq;
import io.kontrol.proxy.pixy.ProdRq;
import io.kontrol.proxy.pixy.ProdRs;
import io.kontrol.proxy.pixy.RecordHeader;
import io.kontrol.proxy.pixy.SetOffsetsRq;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Pixy's HTTP and gRPC APIs against one real KRaft broker (a child JVM from the Maven jars), one
 * proxy in this JVM; every test has its own topic.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ProxyApiTest {
  static final Duration LONG_POLL = Duration.ofSeconds(3);
  static final Duration ACK_TIMEOUT = Duration.ofSeconds(5);
  static final int MAX_REQUEST = 1024 * 1024;
  static final AtomicInteger topics = new AtomicInteger();

  static ProxyFixture fx;
  static KafkaCluster kafka;
  static Proxy proxy;
  static ProxyClient client;

  @BeforeAll
  static void start() throws Exception {
    fx = ProxyFixture.start(1, c -> c
        .withTimeouts(LONG_POLL, ACK_TIMEOUT, Duration.ofSeconds(15))
        .withInitialOffset("earliest")
        .withProduceTimeout(Duration.ofSeconds(10))
        .withMaxRequestBytes(MAX_REQUEST));
    kafka = fx.kafka;
    proxy = fx.proxy;
    client = fx.client;
  }

  @AfterAll
  static void stop() {
    if (fx != null) {
      fx.close();
    }
  }

  static String topic(int partitions) {
    String t = "t" + topics.incrementAndGet();
    kafka.createTopic(t, partitions, Map.of());
    return t;
  }

  static KafkaConsumer<byte[], byte[]> plainConsumer() {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
  }

  static KafkaProducer<String, String> plainProducer() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
  }

  static ConsumerRecord<byte[], byte[]> read(String topic, int partition, long offset) {
    try (KafkaConsumer<byte[], byte[]> c = plainConsumer()) {
      TopicPartition tp = new TopicPartition(topic, partition);
      c.assign(List.of(tp));
      c.seek(tp, offset);
      long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (System.nanoTime() < end) {
        ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(500));
        for (ConsumerRecord<byte[], byte[]> r : rs) {
          if (r.offset() == offset) {
            return r;
          }
        }
      }
      throw new AssertionError("no record at " + topic + "/" + partition + "@" + offset);
    }
  }

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  static String unb64(JsonNode n) {
    return new String(Base64.getDecoder().decode(n.asText()), StandardCharsets.UTF_8);
  }

  // ---- produce ----

  @Test
  void syncProduceOverHttpIsReadByAPlainKafkaConsumer() {
    String t = topic(3);
    Answer a = client.send(HttpRequest.newBuilder(client.uri("/topics/" + t + "/messages?key=k1&sync"))
        .header("Content-Type", "application/json").header("X-Kafka-trace", b64("abc"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"bar\": \"bazz\"}")));
    assertThat(a.status()).as(a.body()).isEqualTo(200);
    int partition = a.json().get("partition").asInt();
    long offset = a.json().get("offset").asLong();

    ConsumerRecord<byte[], byte[]> r = read(t, partition, offset);
    assertThat(new String(r.key(), StandardCharsets.UTF_8)).isEqualTo("k1");
    assertThat(new String(r.value(), StandardCharsets.UTF_8)).isEqualTo("{\"bar\": \"bazz\"}");
    assertThat(new String(r.headers().lastHeader("trace").value(), StandardCharsets.UTF_8)).isEqualTo("abc");
  }

  @Test
  void asyncProduceAnswersAnEmptyObjectAndTheMessageArrives() {
    String t = topic(1);
    Answer a = client.post("/topics/" + t + "/messages", "fire and forget");
    assertThat(a.status()).isEqualTo(200);
    assertThat(a.json().size()).isZero();
    assertThat(new String(read(t, 0, 0).value(), StandardCharsets.UTF_8)).isEqualTo("fire and forget");
  }

  @Test
  void formPostCarriesTheMessageInFieldMsg() {
    String t = topic(1);
    Answer a = client.post("/topics/" + t + "/messages?sync", "msg=hello+form".getBytes(StandardCharsets.UTF_8),
        "application/x-www-form-urlencoded");
    assertThat(a.status()).as(a.body()).isEqualTo(200);
    assertThat(new String(read(t, 0, 0).value(), StandardCharsets.UTF_8)).isEqualTo("hello form");
    Answer empty = client.post("/topics/" + t + "/messages?sync", "other=1".getBytes(StandardCharsets.UTF_8),
        "application/x-www-form-urlencoded");
    assertThat(empty.status()).isEqualTo(400);
    assertThat(empty.json().get("error").asText()).contains("msg");
  }

  @Test
  void grpcProduceIsReadByAPlainKafkaConsumer() {
    String t = topic(3);
    ProdRs rs = client.grpc().produce(ProdRq.newBuilder().setTopic(t).setKeyValue(ByteString.copyFromUtf8("gk"))
        .setMessage(ByteString.copyFromUtf8("over grpc"))
        .addHeaders(RecordHeader.newBuilder().setKey("h").setValue(ByteString.copyFromUtf8("v"))).build());
    ConsumerRecord<byte[], byte[]> r = read(t, rs.getPartition(), rs.getOffset());
    assertThat(new String(r.value(), StandardCharsets.UTF_8)).isEqualTo("over grpc");
    assertThat(new String(r.key(), StandardCharsets.UTF_8)).isEqualTo("gk");
    assertThat(new String(r.headers().lastHeader("h").value(), StandardCharsets.UTF_8)).isEqualTo("v");
  }

  // ---- consume ----

  @Test
  void messagesOfAPlainProducerAreConsumedOverHttpAndOverGrpc() throws Exception {
    String t = topic(1);
    try (KafkaProducer<String, String> p = plainProducer()) {
      p.send(new ProducerRecord<>(t, "key-a", "value-a")).get(30, TimeUnit.SECONDS);
      p.send(new ProducerRecord<>(t, null, "value-b")).get(30, TimeUnit.SECONDS);
    }
    Answer first = client.get("/topics/" + t + "/messages?group=http");
    assertThat(first.status()).as(first.body()).isEqualTo(200);
    assertThat(unb64(first.json().get("key"))).isEqualTo("key-a");
    assertThat(unb64(first.json().get("value"))).isEqualTo("value-a");
    assertThat(first.json().get("offset").asLong()).isZero();
    Answer second = client.get("/topics/" + t + "/messages?group=http");
    assertThat(second.json().get("key").isNull()).isTrue();
    assertThat(unb64(second.json().get("value"))).isEqualTo("value-b");

    ConsRs g1 = client.grpc().consumeNAck(ConsNAckRq.newBuilder().setTopic(t).setGroup("grpc").setAutoAck(true).build());
    ConsRs g2 = client.grpc().consumeNAck(ConsNAckRq.newBuilder().setTopic(t).setGroup("grpc").setAutoAck(true).build());
    assertThat(g1.getKeyValue().toStringUtf8()).isEqualTo("key-a");
    assertThat(g1.getMessage().toStringUtf8()).isEqualTo("value-a");
    assertThat(g2.getKeyUndefined()).isTrue();
    assertThat(g2.getMessage().toStringUtf8()).isEqualTo("value-b");
  }

  @Test
  void anEmptyTopicAnswers408AfterTheThreeSecondLongPoll() {
    String t = topic(1);
    long start = System.nanoTime();
    Answer a = client.get("/topics/" + t + "/messages?group=empty");
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertThat(a.status()).isEqualTo(408);
    assertThat(a.json().get("error").asText()).contains("long polling timeout");
    assertThat(ms).isBetween(2500L, 3500L);

    assertThatThrownBy(() -> client.grpc().consumeNAck(ConsNAckRq.newBuilder().setTopic(t).setGroup("empty").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  void offsetsShowTheLagUntilTheMessagesAreAckedThenZero() {
    String t = topic(1);
    for (int i = 0; i < 3; i++) {
      assertThat(client.post("/topics/" + t + "/messages?sync", "m" + i).status()).isEqualTo(200);
    }
    Answer m0 = client.get("/topics/" + t + "/messages?group=acks&noAck");
    assertThat(m0.status()).as(m0.body()).isEqualTo(200);
    // acks m0 and takes m1
    Answer m1 = client.get("/topics/" + t + "/messages?group=acks&ackPartition=0&ackOffset="
        + m0.json().get("offset").asLong());
    assertThat(unb64(m1.json().get("value"))).isEqualTo("m1");
    Answer m2 = client.get("/topics/" + t + "/messages?group=acks&noAck");
    assertThat(unb64(m2.json().get("value"))).isEqualTo("m2");

    // m0 is acked, m1 and m2 are not: the committed offset stops at m1
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      JsonNode o = client.get("/topics/" + t + "/offsets?group=acks").json().get(0);
      assertThat(o.get("begin").asLong()).isZero();
      assertThat(o.get("end").asLong()).isEqualTo(3);
      assertThat(o.get("count").asLong()).isEqualTo(3);
      assertThat(o.get("offset").asLong()).isEqualTo(1);
      assertThat(o.get("lag").asLong()).isEqualTo(2);
    });
    assertThat(client.post("/topics/" + t + "/acks?group=acks&partition=0&offset=2", "").status()).isEqualTo(200);
    client.grpc().ack(AckRq.newBuilder().setTopic(t).setGroup("acks").setPartition(0).setOffset(1).build());
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      JsonNode o = client.get("/topics/" + t + "/offsets?group=acks").json().get(0);
      assertThat(o.get("offset").asLong()).isEqualTo(3);
      assertThat(o.get("lag").asLong()).isZero();
      var g = client.grpc().getOffsets(GetOffsetsRq.newBuilder().setTopic(t).setGroup("acks").build());
      assertThat(g.getOffsets(0).getLag()).isZero();
      assertThat(g.getOffsets(0).getOffset()).isEqualTo(3);
    });
  }

  @Test
  void anUnackedMessageIsOfferedAgainAfterTheAckTimeout() {
    String t = topic(1);
    assertThat(client.post("/topics/" + t + "/messages?sync", "once").status()).isEqualTo(200);
    ConsRs first = client.grpc().consumeNAck(ConsNAckRq.newBuilder().setTopic(t).setGroup("redo").setNoAck(true).build());
    long handed = System.nanoTime();
    assertThat(first.getMessage().toStringUtf8()).isEqualTo("once");

    // nothing else to read until the ack timeout puts it back
    Answer again;
    do {
      again = client.get("/topics/" + t + "/messages?group=redo&noAck");
    } while (again.status() == 408);
    long after = System.nanoTime() - handed;
    assertThat(again.status()).as(again.body()).isEqualTo(200);
    assertThat(again.json().get("offset").asLong()).isEqualTo(first.getOffset());
    assertThat(unb64(again.json().get("value"))).isEqualTo("once");
    assertThat(Duration.ofNanos(after)).isGreaterThanOrEqualTo(ACK_TIMEOUT.minusMillis(100));

    assertThat(client.post("/topics/" + t + "/acks?group=redo&partition=0&offset=0", "").status()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(client.get("/topics/" + t + "/offsets?group=redo").json().get(0).get("lag").asLong()).isZero());
  }

  @Test
  void offsetsSetOverHttpAndGrpcMoveWhereTheGroupReads() {
    String t = topic(1);
    for (int i = 0; i < 4; i++) {
      client.post("/topics/" + t + "/messages?sync", "s" + i);
    }
    Answer set = client.post("/topics/" + t + "/offsets?group=seek",
        "[{\"partition\": 0, \"offset\": 2, \"metadata\": \"by hand\"}]".getBytes(StandardCharsets.UTF_8), "application/json");
    assertThat(set.status()).as(set.body()).isEqualTo(200);
    JsonNode o = client.get("/topics/" + t + "/offsets?group=seek").json().get(0);
    assertThat(o.get("offset").asLong()).isEqualTo(2);
    assertThat(o.get("metadata").asText()).isEqualTo("by hand");
    assertThat(unb64(client.get("/topics/" + t + "/messages?group=seek").json().get("value"))).isEqualTo("s2");

    client.grpc().setOffsets(SetOffsetsRq.newBuilder().setTopic(t).setGroup("seek2")
        .addOffsets(io.kontrol.proxy.pixy.PartitionOffset.newBuilder().setPartition(0).setOffset(3)).build());
    assertThat(unb64(client.get("/topics/" + t + "/messages?group=seek2").json().get("value"))).isEqualTo("s3");

    Answer bad = client.post("/topics/" + t + "/offsets?group=seek3",
        "[{\"partition\": 7, \"offset\": 0}]".getBytes(StandardCharsets.UTF_8), "application/json");
    assertThat(bad.status()).isEqualTo(400);
    assertThat(bad.json().get("error").asText()).contains("partition 7");
  }

  // ---- topics, consumers, aliases, health, metrics ----

  @Test
  void topicsMetadataAndConsumersAreListed() {
    String t = topic(3);
    kafka.admin(); // the topic exists on the broker
    assertThat(client.get("/topics").json()).extracting(JsonNode::asText).contains(t);
    JsonNode md = client.get("/topics/" + t + "?withPartitions").json();
    assertThat(md.get("partitions")).hasSize(3);
    assertThat(md.get("partitions").get(0).get("leader").asInt()).isEqualTo(1);
    assertThat(md.get("partitions").get(0).get("isr")).hasSize(1);
    JsonNode all = client.get("/topics?withPartitions&withConfig").json();
    assertThat(all.get(t).get("partitions")).hasSize(3);

    client.post("/topics/" + t + "/messages?sync", "x");
    assertThat(client.get("/topics/" + t + "/messages?group=lister").status()).isEqualTo(200);
    JsonNode consumers = client.get("/topics/" + t + "/consumers").json();
    assertThat(consumers.get("lister")).isNotNull();
    int held = 0;
    for (JsonNode parts : consumers.get("lister")) {
      held += parts.size();
    }
    assertThat(held).isEqualTo(3);
    assertThat(client.get("/topics/" + t + "/consumers?group=nobody").json().size()).isZero();

    var list = client.grpc().listTopics(ListTopicRq.newBuilder().setWithPartitions(true).build());
    assertThat(list.getTopicsMap().get(t).getPartitionsCount()).isEqualTo(3);
    var one = client.grpc().getTopicMetadata(GetTopicMetadataRq.newBuilder().setTopic(t).setWithPartitions(true).build());
    assertThat(one.getPartitions(0).getReplicasList()).containsExactly(1);
    var lc = client.grpc().listConsumers(ListConsumersRq.newBuilder().setTopic(t).setGroup("lister").build());
    assertThat(lc.getGroupsMap()).containsKey("lister");
  }

  @Test
  void clusterAliasesServeTheOneClusterAndRefuseOthers() {
    String t = topic(1);
    assertThat(client.post("/clusters/default/topics/" + t + "/messages?sync", "alias").status()).isEqualTo(200);
    assertThat(client.get("/clusters/default/topics/" + t + "/offsets?group=al").status()).isEqualTo(200);
    Answer other = client.post("/clusters/other/topics/" + t + "/messages?sync", "no");
    assertThat(other.status()).isEqualTo(400);
    assertThat(other.json().get("error").asText()).contains("unknown cluster: other");
    assertThatThrownBy(() -> client.grpc().produce(ProdRq.newBuilder().setCluster("other").setTopic(t).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  @Test
  void healthPingAndMetricsAnswer() {
    String t = topic(1);
    client.post("/topics/" + t + "/messages?sync", "counted");
    assertThat(client.get("/_ping").body()).isEqualTo("pong");
    await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
      Answer h = client.get("/health");
      assertThat(h.status()).isEqualTo(200);
      assertThat(h.json().get("kafka").asText()).isEqualTo("reachable");
    });
    String metrics = client.get("/metrics").body();
    assertThat(metrics).contains("kontrol_proxy_requests_seconds_count{api=\"http\",endpoint=\"produce\",status=\"200\"}");
    assertThat(metrics).contains("kontrol_proxy_kafka_reachable");
  }

  // ---- bad input: a clear error for that request, nothing else disturbed ----

  @Test
  void anUnknownTopicIs404OnEveryRoute() {
    for (Answer a : List.of(
        client.post("/topics/nosuch/messages?sync", "x"),
        client.post("/topics/nosuch/messages", "x"),
        client.get("/topics/nosuch/messages?group=g"),
        client.get("/topics/nosuch/offsets?group=g"),
        client.get("/topics/nosuch/consumers"),
        client.get("/topics/nosuch"))) {
      assertThat(a.status()).as(a.body()).isEqualTo(404);
      assertThat(a.json().get("error").asText()).contains("unknown topic").contains("nosuch");
    }
    assertThatThrownBy(() -> client.grpc().produce(ProdRq.newBuilder().setTopic("nosuch").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThat(client.get("/topics").json()).extracting(JsonNode::asText).doesNotContain("nosuch");
  }

  @Test
  void aMissingGroupIs400() {
    String t = topic(1);
    for (Answer a : List.of(
        client.get("/topics/" + t + "/messages"),
        client.get("/topics/" + t + "/offsets"),
        client.post("/topics/" + t + "/acks?partition=0&offset=0", ""),
        client.get("/topics/" + t + "/messages?group="))) {
      assertThat(a.status()).as(a.body()).isEqualTo(400);
      assertThat(a.json().get("error").asText()).contains("group");
    }
    assertThatThrownBy(() -> client.grpc().consumeNAck(ConsNAckRq.newBuilder().setTopic(t).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  @Test
  void aBodyOverTheBrokersMessageMaxBytesIs400AndOverTheRequestLimit413() {
    String t = topic(1);
    byte[] big = new byte[KafkaCluster.MESSAGE_MAX_BYTES + 50_000];
    Answer a = client.post("/topics/" + t + "/messages?sync", big, "application/octet-stream");
    assertThat(a.status()).as(a.body()).isEqualTo(400);
    assertThat(a.json().get("error").asText()).contains("max.message.bytes (" + (KafkaCluster.MESSAGE_MAX_BYTES) + " bytes)")
        .contains(Integer.toString(big.length));
    assertThatThrownBy(() -> client.grpc().produce(ProdRq.newBuilder().setTopic(t).setMessage(ByteString.copyFrom(big)).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));

    Answer huge = client.post("/topics/" + t + "/messages?sync", new byte[MAX_REQUEST + 1], "application/octet-stream");
    assertThat(huge.status()).isEqualTo(413);

    // the topic got nothing, and the proxy still produces
    assertThat(client.post("/topics/" + t + "/messages?sync", "small").json().get("offset").asLong()).isZero();
  }

  @Test
  void malformedQueryParametersAre400WithWhatWasExpected() {
    String t = topic(1);
    Map<String, String> cases = Map.of(
        "/topics/" + t + "/messages?group=g&ackPartition=abc&ackOffset=1", "ackPartition: expected an integer",
        "/topics/" + t + "/messages?group=g&ackPartition=0", "either both should be provided or neither",
        "/topics/" + t + "/messages?group=g&ackPartition=0&ackOffset=-1", "ackOffset: expected an integer",
        "/topics/" + t + "/messages?group=a&group=b", "one group is expected, but 2 provided",
        "/topics/" + t + "/messages?group=g&noAck&ackPartition=0&ackOffset=0", "exclude each other",
        "/topics/bad%20name/messages?group=g", "not a valid Kafka topic name");
    cases.forEach((uri, error) -> {
      Answer a = client.get(uri);
      assertThat(a.status()).as(uri + " " + a.body()).isEqualTo(400);
      assertThat(a.json().get("error").asText()).as(uri).contains(error);
    });
    Answer ack = client.post("/topics/" + t + "/acks?group=g&partition=x&offset=1", "");
    assertThat(ack.status()).isEqualTo(400);
    assertThat(ack.json().get("error").asText()).contains("partition: expected an integer");
    Answer json = client.post("/topics/" + t + "/offsets?group=g", "{not json".getBytes(StandardCharsets.UTF_8), "application/json");
    assertThat(json.status()).isEqualTo(400);
    assertThat(json.json().get("error").asText()).contains("Failed to parse the request");
    Answer header = client.send(HttpRequest.newBuilder(client.uri("/topics/" + t + "/messages?sync"))
        .header("X-Kafka-bad", "%%%").POST(HttpRequest.BodyPublishers.ofString("x")));
    assertThat(header.status()).isEqualTo(400);
    assertThat(header.json().get("error").asText()).containsIgnoringCase("x-kafka-bad").contains("base64");
    Answer nowhere = client.get("/nowhere");
    assertThat(nowhere.status()).isEqualTo(404);
    assertThat(nowhere.json().get("error").asText()).contains("no such endpoint");
    // nothing was produced by any of them
    assertThat(client.post("/topics/" + t + "/messages?sync", "ok").json().get("offset").asLong()).isZero();
  }

  @Test
  void aClientThatDisconnectsMidBodyProducesNothingAndDisturbsNoOne() throws Exception {
    String t = topic(1);
    try (Socket s = new Socket("127.0.0.1", proxy.httpAddress().getPort())) {
      OutputStream out = s.getOutputStream();
      out.write(("POST /topics/" + t + "/messages?sync HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
          + "Content-Length: 1000\r\n\r\nonly ten b").getBytes(StandardCharsets.US_ASCII));
      out.flush();
    }
    Answer ok = client.post("/topics/" + t + "/messages?sync", "whole");
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.json().get("offset").asLong()).isZero();
  }

  @Test
  void aClientThatDisconnectsDuringALongPollLosesNoMessage() throws Exception {
    String t = topic(1);
    try (Socket s = new Socket("127.0.0.1", proxy.httpAddress().getPort())) {
      s.getOutputStream().write(("GET /topics/" + t + "/messages?group=gone HTTP/1.1\r\nHost: x\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      // the request is waiting (no answer within a second), then the client goes away
      s.setSoTimeout(1000);
      InputStream in = s.getInputStream();
      assertThatThrownBy(in::read).isInstanceOf(java.net.SocketTimeoutException.class);
    }
    assertThat(client.post("/topics/" + t + "/messages?sync", "kept").status()).isEqualTo(200);
    long start = System.nanoTime();
    Answer a = client.get("/topics/" + t + "/messages?group=gone");
    assertThat(a.status()).as(a.body()).isEqualTo(200);
    assertThat(unb64(a.json().get("value"))).isEqualTo("kept");
    // handed over at once, not after an ack timeout
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(ACK_TIMEOUT);
  }

  @Test
  void aGrpcClientThatCancelsALongPollLosesNoMessage() {
    String t = topic(1);
    assertThatThrownBy(() -> client.grpc.withDeadlineAfter(500, TimeUnit.MILLISECONDS)
        .consumeNAck(ConsNAckRq.newBuilder().setTopic(t).setGroup("cancel").setAutoAck(true).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    ProdRs p = client.grpc().produce(ProdRq.newBuilder().setTopic(t).setMessage(ByteString.copyFromUtf8("after")).build());
    ConsRs r = client.grpc().consumeNAck(ConsNAckRq.newBuilder().setTopic(t).setGroup("cancel").setAutoAck(true).build());
    assertThat(r.getOffset()).isEqualTo(p.getOffset());
    assertThat(r.getMessage().toStringUtf8()).isEqualTo("after");
  }

}
