package io.kontrol.proxy.cluster;

import java.util.List;
import java.util.Map;

/**
 * A topic as Pixy describes it: a config version (always 1: KRaft keeps no per-topic config
 * version), the topic's config overrides, and its partitions when asked for (else null).
 */
public record TopicMetadata(int version, Map<String, String> config, List<Partition> partitions) {

  /** One partition: its leader (-1 while there is none), replicas and in-sync replicas. */
  public record Partition(int partition, int leader, List<Integer> replicas, List<Integer> isr) {}
}
