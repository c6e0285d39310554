package io.kontrol.agent.identity;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kontrol.agent.config.Env;
import io.kontrol.agent.render.AtomicFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The pod's live annotations.
 *
 * <p>The pod watch ({@link PodWatch}) keeps them as one JSON object in the file named by {@code
 * KONTROL_ANNOTATIONS_FILE} (the images set {@code /data/annotations.json}), replaced atomically
 * on every change; {@code KONTROL_ANNOTATIONS} holds them as they were at boot. Readers call
 * {@link #current(Map)}: the file when it exists, else the variable.
 */
public final class Annotations {

  /** Names the file holding the live annotations. */
  public static final String FILE_VARIABLE = "KONTROL_ANNOTATIONS_FILE";

  /** Holds the annotations resolved at boot, as a JSON object. */
  public static final String VARIABLE = "KONTROL_ANNOTATIONS";

  private static final ObjectMapper JSON =
      new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  private Annotations() {}

  /**
   * The live annotations: the JSON object in {@code KONTROL_ANNOTATIONS_FILE} when that variable
   * is set and the file exists, else the JSON object in {@code KONTROL_ANNOTATIONS}, else none.
   *
   * @throws IllegalArgumentException when the file cannot be read or either source is not a JSON
   *     object of strings (the message names the source)
   */
  public static Map<String, String> current(Map<String, String> env) {
    Env vars = Env.of(env);
    Optional<Path> given = vars.path(FILE_VARIABLE);
    if (given.isPresent()) {
      Path path = given.get();
      String file = path.toString();
      try {
        return parse(Files.readString(path, StandardCharsets.UTF_8), file);
      } catch (NoSuchFileException e) {
        // not written yet (no pod watch here): fall back to the boot-time variable
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read annotations file " + file + ": " + e.getMessage(), e);
      }
    }
    Optional<String> inline = vars.string(VARIABLE);
    if (inline.isEmpty()) {
      return Map.of();
    }
    return parse(inline.get(), VARIABLE);
  }

  /** Parses a JSON object of strings; {@code what} names the source in the error. */
  public static Map<String, String> parse(String json, String what) {
    try {
      Map<String, String> parsed = JSON.readValue(json, new TypeReference<TreeMap<String, String>>() {});
      return parsed == null ? Map.of() : parsed;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(what + " is not a JSON object of strings: " + e.getOriginalMessage(), e);
    }
  }

  /** The annotations as one JSON object, keys sorted. */
  public static String toJson(Map<String, String> annotations) {
    try {
      return JSON.writeValueAsString(new TreeMap<>(annotations));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a map of strings always serialises", e);
    }
  }

  /**
   * Replaces the file with the annotations as JSON, atomically ({@link AtomicFile}): a reader sees
   * the old or the new object, never half, and the file is world-readable (0644), since the
   * lifecycle's {@code kontrol render} runs as the service's user, not as boot's.
   */
  public static void write(Path file, Map<String, String> annotations) throws IOException {
    AtomicFile.write(file, toJson(annotations) + "\n");
  }
}
