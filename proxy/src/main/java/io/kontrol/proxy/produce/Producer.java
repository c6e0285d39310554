package io.kontrol.proxy.produce;

import io.kontrol.proxy.ProxyError;
import io.kontrol.proxy.cluster.Topics;
import java.io.Closeable;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one producer every request shares: idempotent, {@code acks=all}, retried by the client
 * until {@code delivery.timeout.ms}. {@link KafkaProducer#send} may block (on metadata for a
 * topic it has not seen, or when its buffer is full), so it runs on a small bounded pool, never on
 * the thread that reads the request.
 */
public final class Producer implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(Producer.class);
  private static final int SEND_THREADS = 2;
  private static final int SEND_QUEUE = 10_000;

  private final KafkaProducer<byte[], byte[]> producer;
  private final Topics topics;
  private final ThreadPoolExecutor sender;

  public Producer(
      String bootstrap, Map<String, String> overrides, Duration deliveryTimeout, int maxRequestBytes, Topics topics) {
    this.topics = topics;
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "kontrol-proxy");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "0"); // a sync request waits for its own batch
    long delivery = deliveryTimeout.toMillis();
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(delivery));
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(Math.min(10_000, delivery)));
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(Math.min(10_000, delivery)));
    // the broker's message.max.bytes decides; the client only stops what HTTP would not read
    p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(maxRequestBytes + 64 * 1024));
    p.putAll(overrides);
    this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    AtomicInteger n = new AtomicInteger();
    this.sender =
        new ThreadPoolExecutor(
            SEND_THREADS,
            SEND_THREADS,
            0,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(SEND_QUEUE),
            r -> {
              Thread t = new Thread(r, "proxy-produce-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Sends one record; completes with its partition and offset once every in-sync replica has it.
   * Fails with 404 for an unknown topic, 400 for a record over the topic's size limit, 500 for a
   * broker failure (after the client's retries), 503 when the proxy is overloaded or stopping.
   *
   * @param key null: no key (the producer picks the partition); empty: a key like any other
   */
  public CompletableFuture<RecordMetadata> send(String topic, byte[] key, byte[] value, List<Header> headers) {
    return topics
        .requireExists(topic)
        .thenCompose(
            ok -> {
              CompletableFuture<RecordMetadata> done = new CompletableFuture<>();
              ProducerRecord<byte[], byte[]> record =
                  new ProducerRecord<>(topic, null, key, value, headers);
              try {
                sender.execute(() -> sendNow(record, done));
              } catch (RejectedExecutionException e) {
                done.completeExceptionally(
                    new ProxyError(ProxyError.Kind.UNAVAILABLE, "too many produce requests queued"));
              }
              return done;
            })
        .exceptionallyCompose(t -> explain(topic, value.length, t));
  }

  private void sendNow(ProducerRecord<byte[], byte[]> record, CompletableFuture<RecordMetadata> done) {
    try {
      producer.send(
          record,
          (md, e) -> {
            if (e != null) {
              done.completeExceptionally(e);
            } else {
              done.complete(md);
            }
          });
    } catch (RuntimeException e) { // serialisation, size, closed producer, max.block.ms
      done.completeExceptionally(e);
    }
  }

  /** Turns a size failure into one that says the limit; everything else as {@link ProxyError#from}. */
  private CompletableFuture<RecordMetadata> explain(String topic, int size, Throwable t) {
    Throwable cause = ProxyError.unwrap(t);
    if (cause instanceof RecordTooLargeException) {
      return topics
          .maxMessageBytes(topic)
          .handle(
              (limit, e) -> {
                String what =
                    limit == null
                        ? "the broker's message.max.bytes"
                        : "topic " + topic + "'s max.message.bytes (" + limit + " bytes)";
                throw ProxyError.badRequest(
                    "message of " + size + " bytes is over " + what + ": " + cause.getMessage());
              });
    }
    return CompletableFuture.failedFuture(ProxyError.from(cause));
  }

  @Override
  public void close() {
    sender.shutdown();
    try {
      if (!sender.awaitTermination(5, TimeUnit.SECONDS)) {
        sender.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      producer.close(Duration.ofSeconds(10));
      log.info("producer closed");
    }
  }
}
