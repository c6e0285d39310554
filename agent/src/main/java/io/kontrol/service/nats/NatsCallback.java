package io.kontrol.service.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.service.CallbackException;
import io.kontrol.service.CallbackInput;
import io.kontrol.service.Fanout;
import io.kontrol.service.ServiceCallback;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
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
public final class NatsCallback implements ServiceCallback {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Fanout brokers;
  private final Consumer<String> log;

  public NatsCallback(Fanout brokers, Consumer<String> log) {
    this.brokers = Objects.requireNonNull(brokers, "brokers");
    this.log = Objects.requireNonNull(log, "log");
  }

  @Override
  public String run(CallbackInput in) throws CallbackException {
    List<JsonNode> records = in.records();
    TreeSet<String> peers = new TreeSet<>();
    // ip -> nonce: a pod restarted with the same IP has a new nonce and a broker to configure
    TreeMap<String, String> nonces = new TreeMap<>();
    String group = null;
    TreeSet<String> broken = new TreeSet<>();
    for (JsonNode record : records) {
      String ip = CallbackInput.ip(record);
      peers.add(ip);
      nonces.put(ip, record.path("nonce").asText(""));
      if (group == null && record.hasNonNull("app")) {
        group = record.get("app").asText();
      }
      if (CallbackInput.payload(record).hasNonNull("config_error")) {
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

    JsonNode previous = in.previous();
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
        log.accept("broker(s) " + targets + " restarted with the same IP: configuring them");
      }
      if (!broken.isEmpty()) {
        log.accept("broker(s) " + broken + " report a config_error: sending the configuration again");
        targets.addAll(broken);
      }
    }
    if (targets.isEmpty()) {
      log.accept("" + peers.size() + " broker(s) " + peers + " already configured, nothing to do");
      return next.toString();
    }
    log.accept("configuring " + targets.size() + " of " + peers.size() + " broker(s) with " + input);
    brokers.configure(List.copyOf(targets), input.toString());
    return next.toString();
  }
}
