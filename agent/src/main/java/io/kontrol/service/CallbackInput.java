package io.kontrol.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * What the agent gives a leader callback: the group's pod records from {@code $PODS} (ordered by
 * seq) and the state the last successful run printed, from {@code $STATE}.
 */
public final class CallbackInput {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<JsonNode> records;
  private final JsonNode previous;

  private CallbackInput(List<JsonNode> records, JsonNode previous) {
    this.records = records;
    this.previous = previous;
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
    return new CallbackInput(List.copyOf(records), previous);
  }

  /** The pod records, in {@code $PODS} order (by seq). */
  public List<JsonNode> records() {
    return records;
  }

  /** The last state: an empty object the first time or when {@code $STATE} was not JSON. */
  public JsonNode previous() {
    return previous;
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
