package io.kontrol.proxy.cluster;

import static io.kontrol.proxy.cluster.Topics.of;

import io.kontrol.proxy.ProxyError;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;

/** A group's offsets in a topic, read and set through the Admin client, in Pixy's terms. */
public final class Offsets {
  private final Admin admin;
  private final Topics topics;

  public Offsets(Admin admin, Topics topics) {
    this.admin = admin;
    this.topics = topics;
  }

  /**
   * Per partition: begin and end offsets, the group's committed offset and lag. A partition the
   * group has no offset for shows offset -1 and lag 0 (it would start at the end).
   */
  public CompletableFuture<List<PartitionOffset>> get(String group, String topic) {
    return topics
        .partitions(topic)
        .thenCompose(
            infos -> {
              List<TopicPartition> tps = new ArrayList<>();
              Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
              Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
              for (TopicPartitionInfo i : infos) {
                TopicPartition tp = new TopicPartition(topic, i.partition());
                tps.add(tp);
                earliest.put(tp, OffsetSpec.earliest());
                latest.put(tp, OffsetSpec.latest());
              }
              CompletableFuture<Map<TopicPartition, ListOffsetsResultInfo>> b =
                  of(admin.listOffsets(earliest).all());
              CompletableFuture<Map<TopicPartition, ListOffsetsResultInfo>> e =
                  of(admin.listOffsets(latest).all());
              CompletableFuture<Map<TopicPartition, OffsetAndMetadata>> c =
                  of(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
              return CompletableFuture.allOf(b, e, c)
                  .thenApply(
                      v -> {
                        List<PartitionOffset> out = new ArrayList<>();
                        for (TopicPartition tp : tps) {
                          long begin = b.join().get(tp).offset();
                          long end = e.join().get(tp).offset();
                          OffsetAndMetadata om = c.join().get(tp);
                          long offset = om == null ? -1 : om.offset();
                          long lag = om == null ? 0 : Math.max(0, end - Math.max(offset, begin));
                          String meta = om == null ? "" : om.metadata();
                          out.add(new PartitionOffset(tp.partition(), begin, end, end - begin, offset, lag, meta));
                        }
                        return out;
                      });
            })
        .exceptionallyCompose(t -> CompletableFuture.failedFuture(ProxyError.from(t)));
  }

  /**
   * Sets the group's committed offsets (partition, offset, metadata of each entry). 400 for a
   * partition the topic does not have; 409 while the group has active members (Pixy's rule:
   * consumption stops first).
   */
  public CompletableFuture<Void> set(String group, String topic, List<PartitionOffset> offsets) {
    return topics
        .partitions(topic)
        .thenCompose(
            infos -> {
              Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
              for (PartitionOffset po : offsets) {
                if (po.partition() < 0 || po.partition() >= infos.size()) {
                  throw ProxyError.badRequest(
                      "partition " + po.partition() + " is not in topic " + topic + " (it has "
                          + infos.size() + " partitions)");
                }
                if (po.offset() < 0) {
                  throw ProxyError.badRequest("offset of partition " + po.partition() + ": expected >= 0, got " + po.offset());
                }
                m.put(new TopicPartition(topic, po.partition()),
                    new OffsetAndMetadata(po.offset(), po.metadata() == null ? "" : po.metadata()));
              }
              return of(admin.alterConsumerGroupOffsets(group, m).all());
            })
        .exceptionallyCompose(t -> CompletableFuture.failedFuture(ProxyError.from(t)));
  }
}
