package io.kontrol.proxy.grpc;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.kontrol.proxy.ProxyError;
import io.kontrol.proxy.Requests;
import io.kontrol.proxy.Services;
import io.kontrol.proxy.cluster.PartitionOffset;
import io.kontrol.proxy.cluster.TopicMetadata;
import io.kontrol.proxy.consume.Ack;
import io.kontrol.proxy.consume.Delivery;
import io.kontrol.proxy.consume.Message;
import io.kontrol.proxy.pixy.AckRq;
import io.kontrol.proxy.pixy.AckRs;
import io.kontrol.proxy.pixy.ConsNAckRq;
import io.kontrol.proxy.pixy.ConsRs;
import io.kontrol.proxy.pixy.ConsumerGroups;
import io.kontrol.proxy.pixy.ConsumerPartitions;
import io.kontrol.proxy.pixy.GetOffsetsRq;
import io.kontrol.proxy.pixy.GetOffsetsRs;
import io.kontrol.proxy.pixy.GetTopicMetadataRq;
import io.kontrol.proxy.pixy.GetTopicMetadataRs;
import io.kontrol.proxy.pixy.KafkaPixyGrpc;
import io.kontrol.proxy.pixy.ListConsumersRq;
import io.kontrol.proxy.pixy.ListConsumersRs;
import io.kontrol.proxy.pixy.ListTopicRq;
import io.kontrol.proxy.pixy.ListTopicRs;
import io.kontrol.proxy.pixy.PartitionMetadata;
import io.kontrol.proxy.pixy.ProdRq;
import io.kontrol.proxy.pixy.ProdRs;
import io.kontrol.proxy.pixy.RecordHeader;
import io.kontrol.proxy.pixy.SetOffsetsRq;
import io.kontrol.proxy.pixy.SetOffsetsRs;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Pixy's gRPC service over the proxy's services; every method is asynchronous. */
final class PixyService extends KafkaPixyGrpc.KafkaPixyImplBase {
  private static final Logger log = LoggerFactory.getLogger(PixyService.class);

  private final Services services;

  PixyService(Services services) {
    this.services = services;
  }

  @Override
  public void produce(ProdRq rq, StreamObserver<ProdRs> out) {
    answer("produce", out, () -> {
      services.config().checkCluster(rq.getCluster());
      String topic = Requests.topic(rq.getTopic());
      byte[] key = rq.getKeyUndefined() ? null : rq.getKeyValue().toByteArray();
      List<Header> headers = new ArrayList<>();
      for (RecordHeader h : rq.getHeadersList()) {
        headers.add(new org.apache.kafka.common.header.internals.RecordHeader(h.getKey(), h.getValue().toByteArray()));
      }
      if (!rq.getAsyncMode()) {
        return services.producer().send(topic, key, rq.getMessage().toByteArray(), headers)
            .thenApply(md -> ProdRs.newBuilder().setPartition(md.partition()).setOffset(md.offset()).build());
      }
      return services.topics().requireExists(topic).thenApply(v -> {
        services.producer().send(topic, key, rq.getMessage().toByteArray(), headers).whenComplete((md, t) -> {
          if (t != null) {
            services.asyncFailure(topic, ProxyError.from(t));
          }
        });
        return ProdRs.getDefaultInstance();
      });
    });
  }

  @Override
  public void consumeNAck(ConsNAckRq rq, StreamObserver<ConsRs> out) {
    ServerCallStreamObserver<ConsRs> call = (ServerCallStreamObserver<ConsRs>) out;
    long start = System.nanoTime();
    CompletableFuture<Delivery> d;
    try {
      services.config().checkCluster(rq.getCluster());
      String topic = Requests.topic(rq.getTopic());
      String group = Requests.group(rq.getGroup());
      Ack ack;
      if (rq.getNoAck()) {
        ack = Ack.none();
      } else if (rq.getAutoAck()) {
        ack = Ack.auto();
      } else {
        if (rq.getAckPartition() < 0 || rq.getAckOffset() < 0) {
          throw ProxyError.badRequest("ack_partition and ack_offset: expected >= 0, got "
              + rq.getAckPartition() + " and " + rq.getAckOffset());
        }
        ack = Ack.of(rq.getAckPartition(), rq.getAckOffset());
      }
      d = services.consumers().consume(group, topic, ack);
    } catch (RuntimeException e) {
      fail("consume_n_ack", out, e, start);
      return;
    }
    // a client that cancels (or whose deadline passes) withdraws its request
    call.setOnCancelHandler(() -> {
      if (!d.cancel(false) && !d.isCompletedExceptionally()) {
        d.join().failed();
      }
    });
    d.whenComplete((delivery, t) -> {
      if (t != null) {
        if (!call.isCancelled()) {
          fail("consume_n_ack", out, t, start);
        }
        return;
      }
      if (call.isCancelled()) {
        delivery.failed();
        return;
      }
      try {
        out.onNext(consRs(delivery.message()));
        out.onCompleted();
        delivery.sent();
        services.metrics().request("grpc", "consume_n_ack", 200, System.nanoTime() - start);
      } catch (RuntimeException e) { // cancelled while we answered
        delivery.failed();
      }
    });
  }

  @Override
  public void ack(AckRq rq, StreamObserver<AckRs> out) {
    answer("ack", out, () -> {
      services.config().checkCluster(rq.getCluster());
      String topic = Requests.topic(rq.getTopic());
      String group = Requests.group(rq.getGroup());
      if (rq.getPartition() < 0 || rq.getOffset() < 0) {
        throw ProxyError.badRequest("partition and offset: expected >= 0, got " + rq.getPartition() + " and " + rq.getOffset());
      }
      return services.consumers().ack(group, topic, rq.getPartition(), rq.getOffset())
          .thenApply(v -> AckRs.getDefaultInstance());
    });
  }

  @Override
  public void getOffsets(GetOffsetsRq rq, StreamObserver<GetOffsetsRs> out) {
    answer("get_offsets", out, () -> {
      services.config().checkCluster(rq.getCluster());
      String topic = Requests.topic(rq.getTopic());
      String group = Requests.group(rq.getGroup());
      return services.offsets().get(group, topic).thenApply(list -> {
        GetOffsetsRs.Builder b = GetOffsetsRs.newBuilder();
        for (PartitionOffset po : list) {
          b.addOffsets(io.kontrol.proxy.pixy.PartitionOffset.newBuilder()
              .setPartition(po.partition()).setBegin(po.begin()).setEnd(po.end()).setCount(po.count())
              .setOffset(po.offset()).setLag(po.lag()).setMetadata(po.metadata()));
        }
        return b.build();
      });
    });
  }

  @Override
  public void setOffsets(SetOffsetsRq rq, StreamObserver<SetOffsetsRs> out) {
    answer("set_offsets", out, () -> {
      services.config().checkCluster(rq.getCluster());
      String topic = Requests.topic(rq.getTopic());
      String group = Requests.group(rq.getGroup());
      List<PartitionOffset> offsets = new ArrayList<>();
      for (io.kontrol.proxy.pixy.PartitionOffset po : rq.getOffsetsList()) {
        offsets.add(new PartitionOffset(po.getPartition(), 0, 0, 0, po.getOffset(), 0, po.getMetadata()));
      }
      services.consumers().stop(group, topic);
      return services.offsets().set(group, topic, offsets).thenApply(v -> SetOffsetsRs.getDefaultInstance());
    });
  }

  @Override
  public void listTopics(ListTopicRq rq, StreamObserver<ListTopicRs> out) {
    answer("list_topics", out, () -> {
      services.config().checkCluster(rq.getCluster());
      return services.topics().all(rq.getWithPartitions()).thenApply(all -> {
        ListTopicRs.Builder b = ListTopicRs.newBuilder();
        all.forEach((name, md) -> b.putTopics(name, metadata(md)));
        return b.build();
      });
    });
  }

  @Override
  public void listConsumers(ListConsumersRq rq, StreamObserver<ListConsumersRs> out) {
    answer("list_consumers", out, () -> {
      services.config().checkCluster(rq.getCluster());
      String topic = Requests.topic(rq.getTopic());
      return services.groups().consumers(topic, rq.getGroup()).thenApply(m -> {
        ListConsumersRs.Builder b = ListConsumersRs.newBuilder();
        m.forEach((group, members) -> {
          ConsumerGroups.Builder g = ConsumerGroups.newBuilder();
          members.forEach((member, parts) -> g.putConsumers(member, ConsumerPartitions.newBuilder().addAllPartitions(parts).build()));
          b.putGroups(group, g.build());
        });
        return b.build();
      });
    });
  }

  @Override
  public void getTopicMetadata(GetTopicMetadataRq rq, StreamObserver<GetTopicMetadataRs> out) {
    answer("get_topic_metadata", out, () -> {
      services.config().checkCluster(rq.getCluster());
      String topic = Requests.topic(rq.getTopic());
      return services.topics().metadata(topic, rq.getWithPartitions()).thenApply(PixyService::metadata);
    });
  }

  private static GetTopicMetadataRs metadata(TopicMetadata md) {
    GetTopicMetadataRs.Builder b = GetTopicMetadataRs.newBuilder().setVersion(md.version()).putAllConfig(md.config());
    if (md.partitions() != null) {
      for (TopicMetadata.Partition p : md.partitions()) {
        b.addPartitions(PartitionMetadata.newBuilder().setPartition(p.partition()).setLeader(p.leader())
            .addAllReplicas(p.replicas()).addAllIsr(p.isr()));
      }
    }
    return b.build();
  }

  private static ConsRs consRs(Message m) {
    ConsRs.Builder b = ConsRs.newBuilder().setPartition(m.partition()).setOffset(m.offset());
    if (m.key() == null) {
      b.setKeyUndefined(true);
    } else {
      b.setKeyValue(ByteString.copyFrom(m.key()));
    }
    if (m.value() != null) {
      b.setMessage(ByteString.copyFrom(m.value()));
    }
    for (Header h : m.headers()) {
      b.addHeaders(RecordHeader.newBuilder().setKey(h.key())
          .setValue(h.value() == null ? ByteString.EMPTY : ByteString.copyFrom(h.value())));
    }
    return b.build();
  }

  /** Runs a request that answers a future, and answers the call with its outcome. */
  private <T> void answer(String endpoint, StreamObserver<T> out, java.util.function.Supplier<CompletableFuture<T>> work) {
    long start = System.nanoTime();
    CompletableFuture<T> f;
    try {
      f = work.get();
    } catch (RuntimeException e) {
      fail(endpoint, out, e, start);
      return;
    }
    f.whenComplete((r, t) -> {
      if (t != null) {
        fail(endpoint, out, t, start);
        return;
      }
      try {
        out.onNext(r);
        out.onCompleted();
        services.metrics().request("grpc", endpoint, 200, System.nanoTime() - start);
      } catch (RuntimeException e) {
        log.debug("grpc {}: client went away: {}", endpoint, e.toString());
      }
    });
  }

  private void fail(String endpoint, StreamObserver<?> out, Throwable t, long start) {
    ProxyError e = ProxyError.from(t);
    if (e.kind() == ProxyError.Kind.BROKER && !(ProxyError.unwrap(t) instanceof ProxyError)) {
      log.warn("grpc {} failed: {}", endpoint, e.getMessage());
    }
    services.metrics().error("grpc", endpoint, e.kind().name().toLowerCase(Locale.ROOT));
    services.metrics().request("grpc", endpoint, e.kind().httpStatus, System.nanoTime() - start);
    try {
      out.onError(Status.fromCode(e.kind().grpcCode).withDescription(e.getMessage()).asRuntimeException());
    } catch (RuntimeException ignored) {
      // cancelled meanwhile
    }
  }

}
