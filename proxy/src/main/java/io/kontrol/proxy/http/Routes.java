package io.kontrol.proxy.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.proxy.ProxyError;
import io.kontrol.proxy.Requests;
import io.kontrol.proxy.Services;
import io.kontrol.proxy.cluster.PartitionOffset;
import io.kontrol.proxy.cluster.Reachability;
import io.kontrol.proxy.cluster.TopicMetadata;
import io.kontrol.proxy.consume.Ack;
import io.kontrol.proxy.consume.Message;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/**
 * Pixy's HTTP API over the proxy's services. Every route is also served under
 * {@code /clusters/<name>/}, for the one cluster this proxy serves. A route answers a future, so
 * no request holds a thread while Kafka works.
 */
final class Routes {
  static final String HEADER_PREFIX = "x-kafka-";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Services services;

  Routes(Services services) {
    this.services = services;
  }

  /** The endpoint name a request counts under in the metrics (before it is routed). */
  static String endpoint(HttpMethod method, List<String> path) {
    List<String> p = withoutCluster(path);
    if (p.size() == 1 && p.get(0).equals("topics")) {
      return "list_topics";
    }
    if (p.size() == 2 && p.get(0).equals("topics")) {
      return "get_topic_metadata";
    }
    if (p.size() == 3 && p.get(0).equals("topics")) {
      return switch (p.get(2)) {
        case "messages" -> method.equals(HttpMethod.POST) ? "produce" : "consume";
        case "acks" -> "ack";
        case "offsets" -> method.equals(HttpMethod.POST) ? "set_offsets" : "get_offsets";
        case "consumers" -> "list_consumers";
        default -> "unknown";
      };
    }
    if (p.size() == 1) {
      return switch (p.get(0)) {
        case "_ping", "health", "metrics" -> p.get(0).replace("_", "");
        default -> "unknown";
      };
    }
    return "unknown";
  }

  private static List<String> withoutCluster(List<String> path) {
    if (path.size() >= 2 && path.get(0).equals("clusters")) {
      return path.subList(2, path.size());
    }
    return path;
  }

  CompletableFuture<Response> route(HttpMethod method, List<String> path, Query q, HttpHeaders headers, byte[] body) {
    List<String> p = path;
    if (p.size() >= 2 && p.get(0).equals("clusters")) {
      services.config().checkCluster(p.get(1));
      p = p.subList(2, p.size());
    }
    if (p.size() == 1) {
      switch (p.get(0)) {
        case "_ping":
          requireMethod(method, HttpMethod.GET, p);
          return done(new Response(200, "pong".getBytes(StandardCharsets.UTF_8), "text/plain", null));
        case "health":
          requireMethod(method, HttpMethod.GET, p);
          return done(health());
        case "metrics":
          requireMethod(method, HttpMethod.GET, p);
          return done(new Response(200, services.metrics().scrape().getBytes(StandardCharsets.UTF_8),
              "text/plain; version=0.0.4; charset=utf-8", null));
        case "topics":
          requireMethod(method, HttpMethod.GET, p);
          return listTopics(q);
        default:
          break;
      }
    }
    if (p.size() == 2 && p.get(0).equals("topics")) {
      requireMethod(method, HttpMethod.GET, p);
      return topicMetadata(Requests.topic(p.get(1)), q);
    }
    if (p.size() == 3 && p.get(0).equals("topics")) {
      String topic = Requests.topic(p.get(1));
      switch (p.get(2)) {
        case "messages":
          if (method.equals(HttpMethod.POST)) {
            return produce(topic, q, headers, body);
          }
          requireMethod(method, HttpMethod.GET, p);
          return consume(topic, q);
        case "acks":
          requireMethod(method, HttpMethod.POST, p);
          return ack(topic, q);
        case "offsets":
          if (method.equals(HttpMethod.POST)) {
            return setOffsets(topic, q, body);
          }
          requireMethod(method, HttpMethod.GET, p);
          return getOffsets(topic, q);
        case "consumers":
          requireMethod(method, HttpMethod.GET, p);
          return consumers(topic, q);
        default:
          break;
      }
    }
    throw new ProxyError(ProxyError.Kind.NOT_FOUND, "no such endpoint: " + method + " /" + String.join("/", path));
  }

  private static void requireMethod(HttpMethod got, HttpMethod want, List<String> path) {
    if (!got.equals(want) && !(want.equals(HttpMethod.GET) && got.equals(HttpMethod.HEAD))) {
      throw ProxyError.badRequest(got + " is not served on /" + String.join("/", path) + " (expected " + want + ")");
    }
  }

  // ---- produce and consume ----

  private CompletableFuture<Response> produce(String topic, Query q, HttpHeaders headers, byte[] body) {
    String keyParam = q.first("key");
    byte[] key = keyParam == null ? null : keyParam.getBytes(StandardCharsets.UTF_8);
    boolean sync = q.flag("sync");
    byte[] value = message(headers, body);
    List<Header> recordHeaders = recordHeaders(headers);
    if (sync) {
      return services.producer().send(topic, key, value, recordHeaders)
          .thenApply(md -> ok(JSON.createObjectNode().put("partition", md.partition()).put("offset", md.offset())));
    }
    // Pixy's default: answer once the message is accepted (the topic known); a later failure
    // is logged and counted
    return services.topics().requireExists(topic).thenApply(v -> {
      services.producer().send(topic, key, value, recordHeaders).whenComplete((md, t) -> {
        if (t != null) {
          services.asyncFailure(topic, ProxyError.from(t));
        }
      });
      return ok(JSON.createObjectNode());
    });
  }

  /** The body, or the form field {@code msg} of a form post (Pixy's two ways). */
  private static byte[] message(HttpHeaders headers, byte[] body) {
    String type = headers.get(HttpHeaderNames.CONTENT_TYPE, "");
    if (type.startsWith("application/x-www-form-urlencoded")) {
      QueryStringDecoder d = new QueryStringDecoder(new String(body, StandardCharsets.UTF_8), false);
      List<String> msg = d.parameters().get("msg");
      if (msg == null || msg.isEmpty() || msg.get(0).isEmpty()) {
        throw ProxyError.badRequest("empty message: a form post carries the message in the field msg");
      }
      return msg.get(0).getBytes(StandardCharsets.UTF_8);
    }
    return body;
  }

  /** {@code X-Kafka-<name>: <base64>} request headers, as record headers. */
  private static List<Header> recordHeaders(HttpHeaders headers) {
    List<Header> out = new ArrayList<>();
    for (Map.Entry<String, String> h : headers) {
      String name = h.getKey();
      if (name.length() > HEADER_PREFIX.length() && name.regionMatches(true, 0, HEADER_PREFIX, 0, HEADER_PREFIX.length())) {
        try {
          out.add(new RecordHeader(name.substring(HEADER_PREFIX.length()), Base64.getDecoder().decode(h.getValue().trim())));
        } catch (IllegalArgumentException e) {
          throw ProxyError.badRequest("header " + name + ": expected a base64 value, got '" + h.getValue() + "'");
        }
      }
    }
    return out;
  }

  private CompletableFuture<Response> consume(String topic, Query q) {
    String group = Requests.group(q.single("group", false));
    Ack ack = ack(q, "ackPartition", "ackOffset", true);
    CompletableFuture<io.kontrol.proxy.consume.Delivery> d = services.consumers().consume(group, topic, ack);
    CompletableFuture<Response> r =
        d.thenApply(x -> new Response(200, bytes(message(x.message())), "application/json", x));
    r.whenComplete((x, t) -> {
      if (r.isCancelled() && !d.cancel(false) && !d.isCompletedExceptionally()) {
        d.join().failed(); // handed over just as the client left: offer it again
      }
    });
    return r;
  }

  private CompletableFuture<Response> ack(String topic, Query q) {
    String group = Requests.group(q.single("group", false));
    Ack ack = ack(q, "partition", "offset", false);
    return services.consumers().ack(group, topic, ack.partition(), ack.offset())
        .thenApply(v -> ok(JSON.createObjectNode()));
  }

  /** Pixy's ack parameters: both or neither (auto-ack), or {@code noAck} on a consume. */
  private static Ack ack(Query q, String partitionName, String offsetName, boolean consume) {
    Long partition = q.number(partitionName, Integer.MAX_VALUE);
    Long offset = q.number(offsetName, Long.MAX_VALUE);
    boolean noAck = consume && q.flag("noAck");
    if ((partition == null) != (offset == null)) {
      throw ProxyError.badRequest(partitionName + " and " + offsetName + " either both should be provided or neither");
    }
    if (partition != null) {
      if (noAck) {
        throw ProxyError.badRequest("noAck and " + partitionName + "/" + offsetName + " exclude each other");
      }
      return Ack.of(partition.intValue(), offset);
    }
    if (!consume) {
      throw ProxyError.badRequest(partitionName + " and " + offsetName + " are required");
    }
    return noAck ? Ack.none() : Ack.auto();
  }

  static ObjectNode message(Message m) {
    ObjectNode n = JSON.createObjectNode();
    Base64.Encoder b64 = Base64.getEncoder();
    if (m.key() == null) {
      n.putNull("key");
    } else {
      n.put("key", b64.encodeToString(m.key()));
    }
    n.put("value", m.value() == null ? null : b64.encodeToString(m.value()));
    n.put("partition", m.partition());
    n.put("offset", m.offset());
    ArrayNode hs = n.putArray("headers");
    for (Header h : m.headers()) {
      hs.addObject().put("key", h.key()).put("value", h.value() == null ? "" : b64.encodeToString(h.value()));
    }
    return n;
  }

  // ---- offsets, consumers, topics ----

  private CompletableFuture<Response> getOffsets(String topic, Query q) {
    String group = Requests.group(q.single("group", false));
    return services.offsets().get(group, topic).thenApply(list -> {
      ArrayNode a = JSON.createArrayNode();
      for (PartitionOffset po : list) {
        ObjectNode n = a.addObject()
            .put("partition", po.partition())
            .put("begin", po.begin())
            .put("end", po.end())
            .put("count", po.count())
            .put("offset", po.offset())
            .put("lag", po.lag());
        if (!po.metadata().isEmpty()) {
          n.put("metadata", po.metadata());
        }
      }
      return ok(a);
    });
  }

  private CompletableFuture<Response> setOffsets(String topic, Query q, byte[] body) {
    String group = Requests.group(q.single("group", false));
    List<PartitionOffset> offsets = new ArrayList<>();
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (JsonProcessingException e) {
      throw ProxyError.badRequest("Failed to parse the request: " + e.getOriginalMessage());
    } catch (java.io.IOException e) {
      throw ProxyError.badRequest("Failed to parse the request: " + e.getMessage());
    }
    if (root == null || !root.isArray()) {
      throw ProxyError.badRequest("Failed to parse the request: expected a JSON array of {partition, offset, metadata}");
    }
    int i = 0;
    for (JsonNode n : root) {
      if (!n.isObject() || !n.path("partition").canConvertToInt() || !n.path("partition").isIntegralNumber()
          || !n.path("offset").isIntegralNumber()) {
        throw ProxyError.badRequest("Failed to parse the request: entry " + i
            + ": expected {\"partition\": <int>, \"offset\": <int>, \"metadata\": <string>}, got " + n);
      }
      offsets.add(new PartitionOffset(n.get("partition").asInt(), 0, 0, 0, n.get("offset").asLong(), 0,
          n.path("metadata").asText("")));
      i++;
    }
    // this proxy's own consumer of the pair would overwrite them: it leaves the group first
    services.consumers().stop(group, topic);
    return services.offsets().set(group, topic, offsets).thenApply(v -> ok(JSON.createObjectNode()));
  }

  private CompletableFuture<Response> consumers(String topic, Query q) {
    String group = q.single("group", true);
    return services.groups().consumers(topic, group).thenApply(m -> ok(JSON.valueToTree(m)));
  }

  private CompletableFuture<Response> listTopics(Query q) {
    boolean withPartitions = q.flag("withPartitions");
    boolean withConfig = q.flag("withConfig");
    if (!withPartitions && !withConfig) {
      return services.topics().names().thenApply(n -> ok(JSON.valueToTree(n)));
    }
    return services.topics().all(withPartitions).thenApply(all -> {
      ObjectNode o = JSON.createObjectNode();
      all.forEach((name, md) -> o.set(name, metadata(md, withConfig)));
      return ok(o);
    });
  }

  private CompletableFuture<Response> topicMetadata(String topic, Query q) {
    boolean withPartitions = q.flag("withPartitions");
    return services.topics().metadata(topic, withPartitions).thenApply(md -> ok(metadata(md, true)));
  }

  private static ObjectNode metadata(TopicMetadata md, boolean withConfig) {
    ObjectNode n = JSON.createObjectNode();
    if (withConfig) {
      n.put("version", md.version());
      n.set("config", JSON.valueToTree(md.config()));
    }
    if (md.partitions() != null) {
      n.set("partitions", JSON.valueToTree(md.partitions()));
    }
    return n;
  }

  private Response health() {
    Reachability.State s = services.reachability().state();
    ObjectNode n = JSON.createObjectNode()
        .put("status", s.up() ? "ok" : "degraded")
        .put("kafka", s.up() ? "reachable" : "unreachable")
        .put("brokers", s.brokers())
        .put("since", s.since().toString())
        .put("consumers", services.consumers().size());
    if (!s.up()) {
      n.put("detail", s.detail());
    }
    return Response.json(s.up() ? 200 : 503, bytes(n));
  }

  // ---- helpers ----

  static Response error(ProxyError e) {
    return Response.json(e.kind().httpStatus, bytes(JSON.createObjectNode().put("error", e.getMessage())));
  }

  private static Response ok(JsonNode n) {
    return Response.json(200, bytes(n));
  }

  private static byte[] bytes(JsonNode n) {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e); // a tree of our own always serialises
    }
  }

  private static <T> CompletableFuture<T> done(T v) {
    return CompletableFuture.completedFuture(v);
  }
}
