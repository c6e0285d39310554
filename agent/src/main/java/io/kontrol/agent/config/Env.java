package io.kontrol.agent.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Reads settings from an environment (injected: production passes {@code System.getenv()}, tests a
 * map). A blank value counts as unset and values are trimmed. Every malformed value throws {@link
 * ConfigException}, whose one-line message names the variable and says what was expected.
 */
public final class Env {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final BigDecimal MAX_SECONDS = BigDecimal.valueOf(86_400);

  private final Map<String, String> vars;

  private Env(Map<String, String> vars) {
    this.vars = vars;
  }

  /** An environment; {@code null} values count as unset. */
  public static Env of(Map<String, String> vars) {
    return new Env(Collections.unmodifiableMap(new TreeMap<>(withoutNulls(vars))));
  }

  private static Map<String, String> withoutNulls(Map<String, String> vars) {
    Map<String, String> out = new TreeMap<>();
    vars.forEach((k, v) -> {
      if (v != null) {
        out.put(k, v);
      }
    });
    return out;
  }

  /** Every variable, as given. */
  public Map<String, String> asMap() {
    return vars;
  }

  /** The trimmed value, empty when unset or blank. */
  public Optional<String> string(String name) {
    String v = vars.get(name);
    return v == null || v.isBlank() ? Optional.empty() : Optional.of(v.trim());
  }

  /** True when the variable is set to something other than blanks. */
  public boolean isSet(String name) {
    return string(name).isPresent();
  }

  /** A whole number in {@code [min, max]}, {@code dflt} when unset. */
  public int integer(String name, int dflt, int min, int max) {
    Optional<String> v = string(name);
    if (v.isEmpty()) {
      return dflt;
    }
    int n;
    try {
      n = Integer.parseInt(v.get());
    } catch (NumberFormatException e) {
      throw new ConfigException(name, "not a whole number: \"" + v.get() + "\"");
    }
    if (n < min || n > max) {
      throw new ConfigException(name, n + " is out of range " + min + ".." + max);
    }
    return n;
  }

  /** A TCP port (0 means any free port), {@code dflt} when unset. */
  public int port(String name, int dflt) {
    return integer(name, dflt, 0, 65535);
  }

  /**
   * Seconds, fractions allowed ({@code 0.5}), at most a day; {@code positive} forbids 0. {@code
   * dflt} when unset.
   */
  public Duration seconds(String name, Duration dflt, boolean positive) {
    Optional<String> v = string(name);
    if (v.isEmpty()) {
      return dflt;
    }
    BigDecimal s;
    try {
      s = new BigDecimal(v.get());
    } catch (NumberFormatException e) {
      throw new ConfigException(name, "not a number of seconds: \"" + v.get() + "\"");
    }
    if (s.signum() < 0 || (positive && s.signum() == 0) || s.compareTo(MAX_SECONDS) > 0) {
      throw new ConfigException(name, v.get() + " is out of range " + (positive ? "(0" : "[0") + "..86400] seconds");
    }
    return Duration.ofMillis(s.movePointRight(3).longValue());
  }

  /** {@code true} or {@code false} (any case), {@code dflt} when unset. */
  public boolean bool(String name, boolean dflt) {
    Optional<String> v = string(name);
    if (v.isEmpty()) {
      return dflt;
    }
    if (v.get().equalsIgnoreCase("true")) {
      return true;
    }
    if (v.get().equalsIgnoreCase("false")) {
      return false;
    }
    throw new ConfigException(name, "must be true or false, not \"" + v.get() + "\"");
  }

  /** A path, not checked. */
  public Optional<Path> path(String name) {
    return string(name).map(Path::of);
  }

  /** A path to a file this process can read, checked now. */
  public Optional<Path> readableFile(String name) {
    Optional<Path> p = path(name);
    if (p.isPresent() && !Files.isReadable(p.get())) {
      throw new ConfigException(name, p.get() + " cannot be read");
    }
    return p;
  }

  /** The trimmed, non-empty content of the file the variable names. */
  public Optional<String> fileContent(String name) {
    Optional<Path> p = path(name);
    if (p.isEmpty()) {
      return Optional.empty();
    }
    String text;
    try {
      text = Files.readString(p.get(), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new ConfigException(name, p.get() + " cannot be read (" + e.getClass().getSimpleName() + ")");
    }
    if (text.isEmpty()) {
      throw new ConfigException(name, p.get() + " is empty");
    }
    return Optional.of(text);
  }

  /**
   * A JSON object whose values are strings (or other scalars, as text); keys sorted.
   *
   * @param expected what the value should be, for the message when it is required but unset
   */
  public Map<String, String> jsonStrings(String name, boolean required, String expected) {
    Optional<String> v = string(name);
    if (v.isEmpty()) {
      if (required) {
        throw new ConfigException(name, "not set (" + expected + ")");
      }
      return Map.of();
    }
    JsonNode node;
    try {
      node = JSON.readTree(v.get());
    } catch (Exception e) {
      throw new ConfigException(name, "not valid JSON: " + firstLine(e.getMessage()));
    }
    if (node == null || !node.isObject()) {
      throw new ConfigException(name, "not a JSON object");
    }
    Map<String, String> out = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (!f.getValue().isValueNode() || f.getValue().isNull()) {
        throw new ConfigException(name, "value of \"" + f.getKey() + "\" is not a string");
      }
      out.put(f.getKey(), f.getValue().asText());
    }
    return Collections.unmodifiableMap(out);
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
