package io.kontrol.agent.callback.nats;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The NATS group leader's callback (replaces the original's callback.py): every broker of the
 * group must route to every other one.
 *
 * <p>From {@code $PODS} it takes the group's pod IPs; when they differ from the ones in {@code
 * $STATE}, it sends EVERY broker a {@code configure} transition with {@code {"group": ...,
 * "peers": [...]}} and waits for each to finish. A pod restarted with an IP it had before (its
 * record's nonce changed) is configured alone. The state is that input plus each pod's nonce. The new state is returned only when every broker
 * answered; one that did not makes the whole run fail, so the agent keeps the old state and runs
 * the callback again. A broker that reports a {@code config_error} in its payload is sent the
 * configuration again on every run, so a fixed template is picked up by the next change.
 */
public final class NatsCallback {

  /** The lifecycle state every broker is sent. */
  public static final String CONFIGURE = "configure";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Sends one broker the {@code configure} transition and waits for it; never throws. */
  @FunctionalInterface
  public interface Broker {
    /** @return null when the broker applied it, else why not */
    String configure(String ip, String input);
  }

  private final Broker broker;
  private final Consumer<String> log;

  public NatsCallback(Broker broker, Consumer<String> log) {
    this.broker = Objects.requireNonNull(broker, "broker");
    this.log = Objects.requireNonNull(log, "log");
  }

  /**
   * Runs the callback.
   *
   * @param pods {@code $PODS}: the group's records ordered by seq
   * @param state {@code $STATE}: the last state, empty or null the first time
   * @return the new state, to print
   * @throws CallbackException when the input is unusable or any broker did not apply the change
   */
  public String run(String pods, String state) throws CallbackException {
    List<JsonNode> records = records(pods);
    TreeSet<String> peers = new TreeSet<>();
    // ip -> nonce: a pod restarted with the same IP has a new nonce and a broker to configure
    TreeMap<String, String> nonces = new TreeMap<>();
    String group = null;
    TreeSet<String> broken = new TreeSet<>();
    for (JsonNode record : records) {
      String ip = record.path("ip").asText("");
      if (ip.isEmpty()) {
        throw CallbackException.badInput("a pod record has no ip: " + record);
      }
      peers.add(ip);
      nonces.put(ip, record.path("nonce").asText(""));
      if (group == null && record.hasNonNull("app")) {
        group = record.get("app").asText();
      }
      if (payload(record).hasNonNull("config_error")) {
        broken.add(ip);
      }
    }
    if (peers.isEmpty()) {
      throw CallbackException.badInput("$PODS lists no pod: nothing to configure");
    }

    ObjectNode input = JSON.createObjectNode();
    input.put("group", group == null ? "nats" : group);
    ArrayNode list = input.putArray("peers");
    peers.forEach(list::add);
    ObjectNode next = input.deepCopy();
    ObjectNode seen = next.putObject("nonces");
    nonces.forEach(seen::put);

    JsonNode previous = previous(state);
    TreeSet<String> targets = new TreeSet<>();
    if (!input.get("group").equals(previous.get("group")) || !input.get("peers").equals(previous.get("peers"))) {
      targets.addAll(peers);
    } else {
      JsonNode before = previous.path("nonces");
      nonces.forEach(
          (ip, nonce) -> {
            if (!nonce.equals(before.path(ip).asText(null))) {
              targets.add(ip);
            }
          });
      if (!targets.isEmpty()) {
        log.accept("nats: broker(s) " + targets + " restarted with the same IP: configuring them");
      }
      if (!broken.isEmpty()) {
        log.accept("nats: broker(s) " + broken + " report a config_error: sending the configuration again");
        targets.addAll(broken);
      }
    }
    if (targets.isEmpty()) {
      log.accept("nats: " + peers.size() + " broker(s) " + peers + " already configured, nothing to do");
      return next.toString();
    }
    log.accept("nats: configuring " + targets.size() + " of " + peers.size() + " broker(s) with " + input);
    configureAll(List.copyOf(targets), input.toString());
    return next.toString();
  }

  private void configureAll(List<String> ips, String input) throws CallbackException {
    AtomicInteger n = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(ips.size(), 16),
            r -> {
              Thread t = new Thread(r, "nats-callback-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    try {
      List<Future<String>> answers = new ArrayList<>();
      for (String ip : ips) {
        answers.add(pool.submit(() -> broker.configure(ip, input)));
      }
      List<String> failures = new ArrayList<>();
      for (int i = 0; i < ips.size(); i++) {
        String failure;
        try {
          // each call is bounded by its own timeout (the Broker's contract)
          failure = answers.get(i).get();
        } catch (ExecutionException e) {
          failure = String.valueOf(e.getCause());
        }
        if (failure == null) {
          log.accept("nats: " + ips.get(i) + " configured");
        } else {
          log.accept("nats: " + ips.get(i) + " NOT configured: " + failure);
          failures.add(ips.get(i) + " (" + failure + ")");
        }
      }
      if (!failures.isEmpty()) {
        throw CallbackException.failed(
            failures.size() + " of " + ips.size() + " broker(s) not configured: " + String.join(", ", failures));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CallbackException.failed("interrupted while configuring the brokers");
    } finally {
      pool.shutdownNow();
      try {
        pool.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static List<JsonNode> records(String pods) throws CallbackException {
    if (pods == null || pods.isBlank()) {
      throw CallbackException.badInput("$PODS is empty: run by the kontrol agent, which sets it");
    }
    JsonNode node;
    try {
      node = JSON.readTree(pods);
    } catch (JsonProcessingException e) {
      throw CallbackException.badInput("$PODS is not JSON: " + e.getOriginalMessage());
    }
    if (!node.isArray()) {
      throw CallbackException.badInput("$PODS must be a JSON array of pod records");
    }
    List<JsonNode> records = new ArrayList<>();
    node.forEach(records::add);
    return records;
  }

  /** The record's payload: an object, or a string holding one (as the agent may store it). */
  private static JsonNode payload(JsonNode record) {
    JsonNode payload = record.path("payload");
    if (payload.isTextual()) {
      try {
        return JSON.readTree(payload.asText());
      } catch (JsonProcessingException e) {
        return JSON.createObjectNode();
      }
    }
    return payload;
  }

  private JsonNode previous(String state) {
    if (state == null || state.isBlank()) {
      return JSON.createObjectNode();
    }
    try {
      return JSON.readTree(state);
    } catch (JsonProcessingException e) {
      log.accept("nats: $STATE is not JSON, configuring every broker: " + e.getOriginalMessage());
      return JSON.createObjectNode();
    }
  }
}
