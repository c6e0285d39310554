package io.kontrol.proxy.cluster;

import io.kontrol.proxy.ProxyError;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * The cluster's topics, through one shared Admin client: existence (cached, so that produce and
 * consume requests for a known topic cost no round trip), metadata and config as Pixy reports them,
 * and the size limit a too-large message is told about.
 */
public final class Topics {
  private static final Duration KNOWN_FOR = Duration.ofSeconds(30);

  private final Admin admin;
  private final LongSupplier nanoClock;
  /** topic -> System.nanoTime() until which it is known to exist. */
  private final Map<String, Long> known = new ConcurrentHashMap<>();
  private volatile CompletableFuture<Boolean> autoCreate;

  public Topics(Admin admin, LongSupplier nanoClock) {
    this.admin = admin;
    this.nanoClock = nanoClock;
  }

  /**
   * Completes when {@code topic} exists, or when the broker creates topics on first use
   * ({@code auto.create.topics.enable}); fails with 404 otherwise and with 400 for a name Kafka
   * refuses.
   */
  public CompletableFuture<Void> requireExists(String topic) {
    Long until = known.get(topic);
    long now = nanoClock.getAsLong();
    if (until != null && until - now > 0) {
      return CompletableFuture.completedFuture(null);
    }
    return describe(List.of(topic))
        .thenApply(d -> (Void) null)
        .exceptionallyCompose(
            t -> {
              if (ProxyError.unwrap(t) instanceof UnknownTopicOrPartitionException) {
                return autoCreateEnabled()
                    .thenApply(
                        on -> {
                          if (!on) {
                            throw ProxyError.unknownTopic(topic);
                          }
                          return null;
                        });
              }
              return CompletableFuture.failedFuture(ProxyError.from(t));
            });
  }

  /** The partitions of {@code topic}, in order; 404 if it does not exist. */
  public CompletableFuture<List<TopicPartitionInfo>> partitions(String topic) {
    return describe(List.of(topic)).thenApply(d -> d.get(topic).partitions());
  }

  /** Every topic name but Kafka's internal ones, sorted. */
  public CompletableFuture<List<String>> names() {
    return of(admin.listTopics().names()).thenApply(n -> n.stream().sorted().toList());
  }

  /** One topic's metadata as Pixy's GetTopicMetadataRs has it: its config overrides, partitions. */
  public CompletableFuture<TopicMetadata> metadata(String topic, boolean withPartitions) {
    return describe(List.of(topic))
        .thenCompose(d -> configs(List.of(topic)).thenApply(c -> toMetadata(d.get(topic), c.get(topic), withPartitions)));
  }

  /** Every topic's metadata, by name. */
  public CompletableFuture<Map<String, TopicMetadata>> all(boolean withPartitions) {
    return names()
        .thenCompose(
            names -> {
              if (names.isEmpty()) {
                return CompletableFuture.completedFuture(Map.<String, TopicMetadata>of());
              }
              return describe(names)
                  .thenCompose(
                      d ->
                          configs(names)
                              .thenApply(
                                  c -> {
                                    Map<String, TopicMetadata> out = new TreeMap<>();
                                    for (String n : names) {
                                      TopicDescription td = d.get(n);
                                      if (td != null) { // deleted between the two calls
                                        out.put(n, toMetadata(td, c.get(n), withPartitions));
                                      }
                                    }
                                    return out;
                                  }));
            });
  }

  /** The topic's {@code max.message.bytes} (the broker's {@code message.max.bytes} unless overridden). */
  public CompletableFuture<Integer> maxMessageBytes(String topic) {
    ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    return of(admin.describeConfigs(List.of(r)).all())
        .thenApply(m -> Integer.parseInt(m.get(r).get("max.message.bytes").value()));
  }

  /** Forgets a topic, e.g. after the broker said it is unknown. */
  public void forget(String topic) {
    known.remove(topic);
  }

  private CompletableFuture<Map<String, TopicDescription>> describe(Collection<String> names) {
    return of(admin.describeTopics(names).allTopicNames())
        .thenApply(
            d -> {
              long until = nanoClock.getAsLong() + KNOWN_FOR.toNanos();
              d.keySet().forEach(n -> known.put(n, until));
              return d;
            })
        .exceptionallyCompose(
            t -> {
              if (ProxyError.unwrap(t) instanceof UnknownTopicOrPartitionException) {
                names.forEach(known::remove);
                if (names.size() == 1) {
                  return CompletableFuture.failedFuture(
                      ProxyError.unknownTopic(names.iterator().next()));
                }
              }
              return CompletableFuture.failedFuture(ProxyError.from(t));
            });
  }

  private CompletableFuture<Map<String, Config>> configs(Collection<String> names) {
    List<ConfigResource> rs =
        names.stream().map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n)).toList();
    return of(admin.describeConfigs(rs).all())
        .thenApply(
            m -> {
              Map<String, Config> out = new TreeMap<>();
              m.forEach((r, c) -> out.put(r.name(), c));
              return out;
            });
  }

  private CompletableFuture<Boolean> autoCreateEnabled() {
    CompletableFuture<Boolean> f = autoCreate;
    if (f != null && !f.isCompletedExceptionally()) {
      return f;
    }
    DescribeClusterResult cluster = admin.describeCluster();
    f =
        of(cluster.nodes())
            .thenCompose(
                nodes -> {
                  Node any = nodes.iterator().next();
                  ConfigResource r =
                      new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(any.id()));
                  return of(admin.describeConfigs(List.of(r)).all())
                      .thenApply(
                          m -> Boolean.parseBoolean(m.get(r).get("auto.create.topics.enable").value()));
                });
    autoCreate = f;
    return f;
  }

  private static TopicMetadata toMetadata(TopicDescription d, Config config, boolean withPartitions) {
    Map<String, String> overrides = new TreeMap<>();
    if (config != null) {
      for (ConfigEntry e : config.entries()) {
        if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG && e.value() != null) {
          overrides.put(e.name(), e.value());
        }
      }
    }
    List<TopicMetadata.Partition> parts = new ArrayList<>();
    if (withPartitions) {
      for (TopicPartitionInfo p : d.partitions()) {
        parts.add(
            new TopicMetadata.Partition(
                p.partition(),
                p.leader() == null || p.leader().isEmpty() ? -1 : p.leader().id(),
                p.replicas().stream().map(Node::id).toList(),
                p.isr().stream().map(Node::id).toList()));
      }
    }
    return new TopicMetadata(1, overrides, withPartitions ? parts : null);
  }

  static <T> CompletableFuture<T> of(KafkaFuture<T> f) {
    return f.toCompletionStage().toCompletableFuture();
  }
}
