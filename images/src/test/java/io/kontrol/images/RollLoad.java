package io.kontrol.images;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The client side of KafkaClusterIT's roll under load, run as a program in a client container of
 * the test's Docker network (where the brokers' advertised host names resolve), on the image's
 * own Kafka jars: {@code java -cp <test-classes>:/opt/kafka/libs/* io.kontrol.images.RollLoad
 * BOOTSTRAP TOPIC RATE DIR}.
 *
 * <ul>
 *   <li>An idempotent {@code acks=all} producer sends RATE records a second, value = its sequence
 *       number, until the file DIR/stop exists; every acknowledged sequence and every failed send
 *       is counted.
 *   <li>Every second, the ISR of every partition of the cluster (internal topics too), one line
 *       per sample in DIR/isr.log: {@code <epoch ms> <smallest ISR> <partitions with ISR below
 *       their replicas>}.
 *   <li>After the stop: a consumer reads the topic from the beginning to its end, and the last
 *       line of stdout is the verdict: {@code acked=N failed=N read=N duplicates=N missing=N
 *       errors=[...]}.
 * </ul>
 */
public final class RollLoad {

  private RollLoad() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    int rate = Integer.parseInt(args[2]);
    Path dir = Path.of(args[3]);
    Files.createDirectories(dir);

    Properties a = new Properties();
    a.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    a.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
    a.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000);
    ScheduledExecutorService timers =
        Executors.newScheduledThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "roll-load-timer");
              t.setDaemon(true);
              return t;
            });
    try (Admin admin = Admin.create(a);
        PrintWriter isr = new PrintWriter(Files.newBufferedWriter(dir.resolve("isr.log"), StandardCharsets.UTF_8), true)) {
      timers.scheduleAtFixedRate(() -> sample(admin, isr), 0, 1, TimeUnit.SECONDS);

      Properties p = new Properties();
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      p.put(ProducerConfig.ACKS_CONFIG, "all");
      p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
      p.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
      p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
      p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
      BitSet acked = new BitSet();
      AtomicLong failed = new AtomicLong();
      List<String> errors = new CopyOnWriteArrayList<>();
      long sent = 0;
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
        long periodNanos = 1_000_000_000L / rate;
        long next = System.nanoTime();
        while (!Files.exists(dir.resolve("stop"))) {
          int seq = (int) sent++;
          producer.send(
              new ProducerRecord<>(topic, String.valueOf(seq)),
              (md, e) -> {
                if (e == null) {
                  synchronized (acked) {
                    acked.set(seq);
                  }
                } else {
                  failed.incrementAndGet();
                  if (errors.size() < 5) {
                    errors.add(seq + ": " + e);
                  }
                }
              });
          next += periodNanos;
          long wait = next - System.nanoTime();
          if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
          }
          if (sent % rate == 0) {
            System.out.println("sent " + sent + " acked " + acked.cardinality() + " failed " + failed.get());
          }
        }
        producer.flush();
      }

      Map<Integer, Integer> seen = new HashMap<>();
      Properties c = new Properties();
      c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
      try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
        List<TopicPartition> parts = new ArrayList<>();
        consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(pi -> parts.add(new TopicPartition(topic, pi.partition())));
        consumer.assign(parts);
        consumer.seekToBeginning(parts);
        Map<TopicPartition, Long> end = consumer.endOffsets(parts, Duration.ofSeconds(30));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!done(consumer, end) && System.nanoTime() < deadline) {
          for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofSeconds(1))) {
            seen.merge(Integer.parseInt(r.value()), 1, Integer::sum);
          }
        }
      }
      long duplicates = seen.values().stream().filter(n -> n > 1).count();
      Set<Integer> missing = new TreeSet<>();
      long missingCount;
      synchronized (acked) {
        acked.stream().filter(s -> !seen.containsKey(s)).limit(10).forEach(missing::add);
        missingCount = acked.stream().filter(s -> !seen.containsKey(s)).count();
      }
      System.out.println(
          "acked=" + acked.cardinality() + " failed=" + failed.get() + " sent=" + sent + " read=" + seen.size() + " duplicates=" + duplicates
              + " missing=" + missingCount + " firstMissing=" + missing + " errors=" + errors);
    } finally {
      timers.shutdownNow();
    }
  }

  private static boolean done(KafkaConsumer<String, String> consumer, Map<TopicPartition, Long> end) {
    return end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue());
  }

  /** One ISR sample of every partition of the cluster; a failed sample is a line saying so. */
  private static void sample(Admin admin, PrintWriter out) {
    long now = System.currentTimeMillis();
    try {
      Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get(5, TimeUnit.SECONDS);
      Collection<TopicDescription> topics = admin.describeTopics(names).allTopicNames().get(5, TimeUnit.SECONDS).values();
      int smallest = Integer.MAX_VALUE;
      List<String> under = new ArrayList<>();
      for (TopicDescription t : topics) {
        for (TopicPartitionInfo pi : t.partitions()) {
          smallest = Math.min(smallest, pi.isr().size());
          if (pi.isr().size() < pi.replicas().size()) {
            under.add(t.name() + "-" + pi.partition() + ":" + pi.isr().size());
          }
        }
      }
      out.println(now + " " + (smallest == Integer.MAX_VALUE ? -1 : smallest) + " " + under);
    } catch (Exception e) {
      out.println(now + " ? " + e.getClass().getSimpleName());
    }
  }
}
