package io.kontrol.service.kafka;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;

/**
 * Whether one broker may stop now, with Strimzi's two checks: no partition it hosts would fall
 * below its {@code min.insync.replicas}, and the KRaft quorum keeps a caught-up majority without
 * it. Also whether a broker is back in every ISR. Every call is bounded.
 */
public final class RollGate implements RollChecks {

  /** A voter that fetched from the leader this recently counts as caught up. */
  static final long CAUGHT_UP_MS = 10_000;

  private final Admin admin;

  private RollGate(Admin admin) {
    this.admin = admin;
  }

  /** A gate through the brokers at {@code bootstrap} ({@code host:9092,...}). */
  public static RollGate connect(String bootstrap) {
    return new RollGate(KafkaAdmins.brokers(bootstrap, "kontrol-roll-gate"));
  }

  @Override
  public String whyNot(int nodeId) throws IOException {
    Map<String, TopicDescription> topics = topics();
    Map<String, Integer> minIsr = minInsyncReplicas(topics.keySet());
    List<String> blocked = new ArrayList<>();
    for (TopicDescription t : topics.values()) {
      int min = minIsr.getOrDefault(t.name(), 1);
      for (TopicPartitionInfo p : t.partitions()) {
        if (!hosts(p.replicas(), nodeId)) {
          continue;
        }
        Set<Integer> isr = ids(p.isr());
        isr.remove(nodeId);
        if (isr.size() < min) {
          blocked.add(t.name() + "-" + p.partition() + " ISR " + ids(p.isr()) + " (min.insync.replicas " + min + ")");
        }
      }
    }
    if (!blocked.isEmpty()) {
      return "stopping broker " + nodeId + " would leave " + blocked.size() + " partition(s) below min.insync.replicas: "
          + blocked.stream().limit(5).collect(Collectors.joining(", ")) + (blocked.size() > 5 ? ", ..." : "");
    }
    QuorumInfo q = KafkaAdmins.get(admin.describeMetadataQuorum().quorumInfo(), "describeMetadataQuorum");
    boolean voter = q.voters().stream().anyMatch(v -> v.replicaId() == nodeId);
    if (voter) {
      long now = System.currentTimeMillis();
      long others =
          q.voters().stream()
              .filter(v -> v.replicaId() != nodeId)
              .filter(v -> v.replicaId() == q.leaderId() || v.lastCaughtUpTimestamp().orElse(0L) >= now - CAUGHT_UP_MS)
              .count();
      int majority = q.voters().size() / 2 + 1;
      if (others < majority) {
        return "stopping controller " + nodeId + " would leave " + others + " caught-up voter(s) of " + q.voters().size()
            + " (a majority is " + majority + ")";
      }
    }
    return null;
  }

  @Override
  public String outOfSync(int nodeId) throws IOException {
    List<String> out = new ArrayList<>();
    for (TopicDescription t : topics().values()) {
      for (TopicPartitionInfo p : t.partitions()) {
        if (hosts(p.replicas(), nodeId) && !hosts(p.isr(), nodeId)) {
          out.add(t.name() + "-" + p.partition() + " ISR " + ids(p.isr()));
        }
      }
    }
    return out.isEmpty() ? null : "broker " + nodeId + " is not in the ISR of " + out.size() + " partition(s): "
        + out.stream().limit(5).collect(Collectors.joining(", "));
  }

  @Override
  public Set<Integer> brokers() throws IOException {
    return ids(KafkaAdmins.get(admin.describeCluster().nodes(), "describeCluster"));
  }

  private Map<String, TopicDescription> topics() throws IOException {
    Set<String> names = KafkaAdmins.get(admin.listTopics(new ListTopicsOptions().listInternal(true)).names(), "listTopics");
    if (names.isEmpty()) {
      return Map.of();
    }
    return KafkaAdmins.get(admin.describeTopics(names).allTopicNames(), "describeTopics");
  }

  private Map<String, Integer> minInsyncReplicas(Collection<String> topics) throws IOException {
    if (topics.isEmpty()) {
      return Map.of();
    }
    List<ConfigResource> resources = topics.stream().map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
    Map<ConfigResource, Config> configs = KafkaAdmins.get(admin.describeConfigs(resources).all(), "describeConfigs");
    Map<String, Integer> out = new HashMap<>();
    configs.forEach(
        (r, c) -> {
          var e = c.get("min.insync.replicas");
          if (e != null && e.value() != null) {
            out.put(r.name(), Integer.parseInt(e.value()));
          }
        });
    return out;
  }

  private static boolean hosts(List<Node> nodes, int id) {
    return nodes.stream().anyMatch(n -> n.id() == id);
  }

  private static Set<Integer> ids(Collection<Node> nodes) {
    return nodes.stream().map(Node::id).collect(Collectors.toCollection(TreeSet::new));
  }

  @Override
  public void close() {
    admin.close(java.time.Duration.ofSeconds(5));
  }
}
