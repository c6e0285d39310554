package io.kontrol.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * What the agent gives a leader callback: the group's pod records from {@code $PODS} (ordered by
 * seq) and the state the last successful run printed, from {@code $STATE}.
 */
public final class CallbackInput {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<JsonNode> records;
  private final JsonNode previous;
  private final Optional<String> config;
  private final long configRevision;

  private CallbackInput(List<JsonNode> records, JsonNode previous, Optional<String> config, long configRevision) {
    this.records = records;
    this.previous = previous;
    this.config = config;
    this.configRevision = configRevision;
  }

  /** The same input with the group's configuration document and its revision. */
  public CallbackInput withConfig(Optional<String> config, long revision) {
    return new CallbackInput(records, previous, config, revision);
  }

  /**
   * Reads {@code $PODS} — or, when the group was too large for one variable (Linux takes 128 KiB,
   * about 800 records) and the agent set only the file, {@code $PODS_FILE} — {@code $STATE}, and the
   * group's configuration {@code $CONFIG} with {@code $CONFIG_REVISION}.
   *
   * @throws CallbackException (bad input) as {@link #parse}, or when {@code $PODS_FILE} cannot be read
   */
  public static CallbackInput fromEnvironment(Map<String, String> env, Consumer<String> log) throws CallbackException {
    String pods = env.get("PODS");
    String file = env.get("PODS_FILE");
    if ((pods == null || pods.isBlank()) && file != null && !file.isBlank()) {
      try {
        pods = Files.readString(Path.of(file));
      } catch (IOException | RuntimeException e) {
        throw CallbackException.badInput("$PODS is not set and $PODS_FILE " + file + " cannot be read: " + e.getMessage());
      }
    }
    CallbackInput in = parse(pods, env.get("STATE"), log);
    long revision = 0;
    String r = env.get("CONFIG_REVISION");
    if (r != null && !r.isBlank()) {
      try {
        revision = Long.parseLong(r.strip());
      } catch (NumberFormatException e) {
        log.accept("$CONFIG_REVISION is not a number (" + r + "): taken as 0");
      }
    }
    String c = env.get("CONFIG");
    return in.withConfig(c == null || c.isBlank() ? Optional.empty() : Optional.of(c), revision);
  }

  /**
   * Reads {@code $PODS} and {@code $STATE}.
   *
   * @param log hears one line when {@code $STATE} is not JSON (it is then treated as empty)
   * @throws CallbackException (bad input) when {@code $PODS} is missing, not JSON or not an array
   */
  public static CallbackInput parse(String pods, String state, Consumer<String> log) throws CallbackException {
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
    JsonNode previous = JSON.createObjectNode();
    if (state != null && !state.isBlank()) {
      try {
        previous = JSON.readTree(state);
      } catch (JsonProcessingException e) {
        log.accept("$STATE is not JSON, configuring every member: " + e.getOriginalMessage());
      }
    }
    return new CallbackInput(List.copyOf(records), previous, Optional.empty(), 0);
  }

  /** The pod records, in {@code $PODS} order (by seq). */
  public List<JsonNode> records() {
    return records;
  }

  /** The last state: an empty object the first time or when {@code $STATE} was not JSON. */
  public JsonNode previous() {
    return previous;
  }

  /** {@code $CONFIG}: the group's configuration document as stored, if there is one. */
  public Optional<String> config() {
    return config;
  }

  /** {@code $CONFIG_REVISION}: the etcd revision of {@link #config()}, 0 when there is none. */
  public long configRevision() {
    return configRevision;
  }

  /**
   * A record's IP.
   *
   * @throws CallbackException (bad input) when the record has none
   */
  public static String ip(JsonNode record) throws CallbackException {
    String ip = record.path("ip").asText("");
    if (ip.isEmpty()) {
      throw CallbackException.badInput("a pod record has no ip: " + record);
    }
    return ip;
  }

  /** A record's payload: an object, or a string holding one (as the agent may store it). */
  public static JsonNode payload(JsonNode record) {
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
}
