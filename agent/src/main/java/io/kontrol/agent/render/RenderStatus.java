package io.kontrol.agent.render;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Makes a render failure visible to the operator through what the pod reports: the agent attaches
 * the content of its {@code KONTROL_PAYLOAD} file to the pod's record, so a {@code config_error}
 * key written there shows in etcd and in {@code kontrol status}. A later successful render
 * removes the key. Other keys of the file are kept.
 */
public final class RenderStatus {

  public static final String KEY = "config_error";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;

  public RenderStatus(Path file) {
    this.file = file;
  }

  public void failed(String message) throws IOException {
    ObjectNode payload = read();
    payload.put(KEY, message);
    AtomicFile.write(file, JSON.writeValueAsString(payload) + "\n");
  }

  public void succeeded() throws IOException {
    ObjectNode payload = read();
    // only touch the file when there is something to clear: the agent re-publishes on change
    if (payload.remove(KEY) != null || !Files.exists(file)) {
      AtomicFile.write(file, JSON.writeValueAsString(payload) + "\n");
    }
  }

  /**
   * Sets every field of {@code fields} in the payload (a null value removes the key), keeping the
   * others; the file is rewritten only when something changed.
   */
  public void merge(ObjectNode fields) throws IOException {
    ObjectNode payload = read();
    ObjectNode before = payload.deepCopy();
    fields.fields().forEachRemaining(
        e -> {
          if (e.getValue() == null || e.getValue().isNull()) {
            payload.remove(e.getKey());
          } else {
            payload.set(e.getKey(), e.getValue());
          }
        });
    if (!payload.equals(before) || !Files.exists(file)) {
      AtomicFile.write(file, JSON.writeValueAsString(payload) + "\n");
    }
  }

  private ObjectNode read() throws IOException {
    if (!Files.exists(file)) {
      return JSON.createObjectNode();
    }
    String text = Files.readString(file, StandardCharsets.UTF_8);
    if (text.isBlank()) {
      return JSON.createObjectNode();
    }
    JsonNode node;
    try {
      node = JSON.readTree(text);
    } catch (IOException e) {
      // a payload we cannot parse is replaced rather than blocking the report of the error
      return JSON.createObjectNode();
    }
    return node instanceof ObjectNode ? (ObjectNode) node : JSON.createObjectNode();
  }
}
