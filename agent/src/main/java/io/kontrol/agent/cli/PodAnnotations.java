package io.kontrol.agent.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The pod's live annotations for {@code kontrol render --annotation}: the JSON object in
 * {@code KONTROL_ANNOTATIONS_FILE} when that file exists (a downward-API volume, updated live),
 * else the JSON object in {@code KONTROL_ANNOTATIONS}.
 */
final class PodAnnotations {

  private static final ObjectMapper JSON = new ObjectMapper();

  private PodAnnotations() {}

  static Map<String, String> current(Map<String, String> env) {
    String file = env.get("KONTROL_ANNOTATIONS_FILE");
    if (file != null && !file.isBlank() && Files.exists(Path.of(file))) {
      try {
        return parse(Files.readString(Path.of(file), StandardCharsets.UTF_8), file);
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read annotations file " + file + ": " + e.getMessage());
      }
    }
    String inline = env.get("KONTROL_ANNOTATIONS");
    if (inline == null || inline.isBlank()) {
      return Map.of();
    }
    return parse(inline, "KONTROL_ANNOTATIONS");
  }

  private static Map<String, String> parse(String json, String what) {
    try {
      Map<String, String> parsed = JSON.readValue(json, new TypeReference<Map<String, String>>() {});
      return parsed == null ? Map.of() : parsed;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(what + " is not a JSON object of strings: " + e.getOriginalMessage());
    }
  }
}
