package io.kontrol.proxy.cluster;

import static io.kontrol.proxy.cluster.Topics.of;

import io.kontrol.proxy.ProxyError;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;

/** Who consumes a topic: every consumer group's members with the topic's partitions they hold. */
public final class Groups {
  private final Admin admin;
  private final Topics topics;

  public Groups(Admin admin, Topics topics) {
    this.admin = admin;
    this.topics = topics;
  }

  /**
   * group -> member -> partitions of {@code topic}, for every group with a member holding some
   * (only {@code group} when not empty); 404 for an unknown topic.
   */
  public CompletableFuture<Map<String, Map<String, List<Integer>>>> consumers(String topic, String group) {
    CompletableFuture<List<String>> ids =
        group.isEmpty()
            ? of(admin.listGroups().all()).thenApply(gs -> gs.stream().map(GroupListing::groupId).toList())
            : CompletableFuture.completedFuture(List.of(group));
    return topics
        .partitions(topic)
        .thenCompose(p -> ids)
        .thenCompose(
            gs -> {
              if (gs.isEmpty()) {
                return CompletableFuture.completedFuture(Map.<String, ConsumerGroupDescription>of());
              }
              return of(admin.describeConsumerGroups(gs).all())
                  .exceptionally(t -> {
                    if (ProxyError.unwrap(t) instanceof GroupIdNotFoundException) {
                      return Map.of(); // a group nobody has used: no consumers
                    }
                    throw ProxyError.from(t);
                  });
            })
        .thenApply(
            described -> {
              Map<String, Map<String, List<Integer>>> out = new TreeMap<>();
              described.forEach(
                  (g, d) -> {
                    Map<String, List<Integer>> members = new TreeMap<>();
                    for (MemberDescription m : d.members()) {
                      List<Integer> ps = new ArrayList<>();
                      for (TopicPartition tp : m.assignment().topicPartitions()) {
                        if (tp.topic().equals(topic)) {
                          ps.add(tp.partition());
                        }
                      }
                      if (!ps.isEmpty()) {
                        ps.sort(null);
                        members.put(m.clientId() + "_" + m.host() + "_" + m.consumerId(), ps);
                      }
                    }
                    if (!members.isEmpty()) {
                      out.put(g, members);
                    }
                  });
              return out;
            })
        .exceptionallyCompose(t -> CompletableFuture.failedFuture(ProxyError.from(t)));
  }
}
