package io.kontrol.service.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kontrol.agent.groupconfig.GroupConfig;
import io.kontrol.agent.groupconfig.GroupConfigException;
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
 * group must route to every other one, with the group's configuration.
 *
 * <p>From {@code $PODS} it takes the group's pod IPs, from {@code $CONFIG} the group's
 * configuration ({@link GroupConfig}: cluster name, extra routes, leafnode remotes); when either
 * differs from what {@code $STATE} says was applied, it sends EVERY broker a {@code configure}
 * transition with {@code {"group": ..., "peers": [...]}} plus the configuration's {@code name},
 * {@code routes} and {@code leafnodes} (only those it sets), and waits for each to finish. A pod
 * restarted with an IP it had before (its record's nonce changed) is configured alone. The state is
 * that input plus each pod's nonce and, once a configuration exists, its {@code config_revision}
 * and {@code config_status}: {@code applied}, or {@code failed} (with {@code config_failed}: each
 * broker's {@code config_error}) when brokers still report an error for the input they were last
 * sent. The new state is returned only when every broker answered; one that did not makes the
 * whole run fail, so the agent keeps the old state and runs the callback again. A broker that
 * reports a {@code config_error} in its payload is sent the configuration again on every run, so a
 * fixed template is picked up by the next change. A stored configuration that does not validate
 * (written around kontrol) is left out, with {@code config_status} {@code invalid}.
 */
public final class NatsCallback implements ServiceCallback {

  private static final ObjectMapper JSON = new ObjectMapper();
  /** The keys of the broker's input; the state holds them too, and more. */
  private static final List<String> INPUT_KEYS = List.of("group", "peers", "name", "routes", "leafnodes");

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
    TreeMap<String, String> broken = new TreeMap<>();
    for (JsonNode record : records) {
      String ip = CallbackInput.ip(record);
      peers.add(ip);
      nonces.put(ip, record.path("nonce").asText(""));
      if (group == null && record.hasNonNull("app")) {
        group = record.get("app").asText();
      }
      JsonNode error = CallbackInput.payload(record).get("config_error");
      if (error != null && !error.isNull()) {
        broken.put(ip, error.asText());
      }
    }
    if (peers.isEmpty()) {
      throw CallbackException.badInput("$PODS lists no pod: nothing to configure");
    }

    ObjectNode input = JSON.createObjectNode();
    input.put("group", group == null ? "nats" : group);
    ArrayNode list = input.putArray("peers");
    peers.forEach(list::add);
    String invalid = null;
    if (in.config().isPresent()) {
      try {
        input.setAll(GroupConfig.parse(in.config().get()).tree());
      } catch (GroupConfigException e) {
        invalid = e.getMessage();
        log.accept("the group configuration (revision " + in.configRevision() + ") is not valid, left out: " + invalid);
      }
    }
    ObjectNode next = input.deepCopy();
    ObjectNode seen = next.putObject("nonces");
    nonces.forEach(seen::put);

    JsonNode previous = in.previous();
    boolean changed = false;
    for (String key : INPUT_KEYS) {
      changed |= !Objects.equals(input.get(key), previous.get(key));
    }
    TreeSet<String> targets = new TreeSet<>();
    if (changed) {
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
        log.accept("broker(s) " + broken.keySet() + " report a config_error: sending the configuration again");
        targets.addAll(broken.keySet());
      }
    }
    if (in.configRevision() > 0) {
      next.put("config_revision", in.configRevision());
      if (invalid != null) {
        next.put("config_status", "invalid");
        next.put("config_failed", invalid);
      } else if (changed || broken.isEmpty()) {
        // a broker that cannot apply it says so in its payload, which brings the next run
        next.put("config_status", "applied");
      } else {
        next.put("config_status", "failed");
        ObjectNode failed = next.putObject("config_failed");
        broken.forEach(failed::put);
        log.accept("configuration revision " + in.configRevision() + " failed on " + broken.keySet() + ": " + broken);
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
