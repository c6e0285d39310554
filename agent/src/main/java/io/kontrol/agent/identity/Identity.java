package io.kontrol.agent.identity;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kontrol.agent.config.Env;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Who this pod is: the {@code KONTROL_*} identity variables, each either known or absent.
 *
 * <p>Maps (labels, annotations) are held as sorted maps and exported as JSON objects.
 */
public final class Identity {

  public static final String ID = "KONTROL_ID";
  public static final String IP = "KONTROL_IP";
  public static final String HOST = "KONTROL_HOST";
  public static final String LABELS = "KONTROL_LABELS";
  public static final String ANNOTATIONS = "KONTROL_ANNOTATIONS";
  public static final String NODE_LABELS = "KONTROL_NODE_LABELS";
  public static final String NODE_ANNOTATIONS = "KONTROL_NODE_ANNOTATIONS";
  public static final String EIP = "KONTROL_EIP";
  public static final String EC2_INSTANCE_ID = "KONTROL_EC2_INSTANCE_ID";
  public static final String EC2_ZONE = "KONTROL_EC2_ZONE";
  public static final String EC2_HOSTNAME = "KONTROL_EC2_HOSTNAME";

  /** Every identity variable, in the order they are printed. */
  public static final List<String> VARIABLES = List.of(ID, IP, HOST, LABELS, ANNOTATIONS, NODE_LABELS,
      NODE_ANNOTATIONS, EIP, EC2_INSTANCE_ID, EC2_ZONE, EC2_HOSTNAME);

  /** The variables holding a JSON object. */
  static final List<String> MAPS = List.of(LABELS, ANNOTATIONS, NODE_LABELS, NODE_ANNOTATIONS);

  private static final ObjectMapper JSON =
      new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  private final Map<String, String> values;

  private Identity(Map<String, String> values) {
    this.values = values;
  }

  /**
   * The identity variables already set in an environment (blank ones count as unset).
   *
   * @throws IllegalArgumentException when a map variable is set but is not a JSON object of strings
   */
  public static Identity fromEnv(Map<String, String> env) {
    Map<String, String> v = new LinkedHashMap<>();
    Env vars = Env.of(env);
    for (String name : VARIABLES) {
      vars.string(name).ifPresent(value -> {
        if (MAPS.contains(name)) {
          Annotations.parse(value, name); // validates
        }
        v.put(name, value);
      });
    }
    return new Identity(v);
  }

  public boolean has(String variable) {
    return values.containsKey(variable);
  }

  public String get(String variable) {
    return values.get(variable);
  }

  /** A map variable as a map (empty when unset). */
  public Map<String, String> map(String variable) {
    String v = values.get(variable);
    return v == null ? Map.of() : Annotations.parse(v, variable);
  }

  /** Sets a variable unless it is already known: what the operator set wins. */
  Identity withDefault(String variable, String value) {
    if (value == null || value.isBlank() || has(variable)) {
      return this;
    }
    Map<String, String> v = new LinkedHashMap<>(values);
    v.put(variable, value);
    return new Identity(v);
  }

  Identity withDefault(String variable, Map<String, String> map) {
    return map == null ? this : withDefault(variable, Annotations.toJson(map));
  }

  /** The known variables, in {@link #VARIABLES} order. */
  public Map<String, String> toEnv() {
    Map<String, String> out = new LinkedHashMap<>();
    for (String name : VARIABLES) {
      if (values.containsKey(name)) {
        out.put(name, values.get(name));
      }
    }
    return out;
  }

  /** One JSON object; map variables nested as objects, not strings. */
  public String toJson() {
    Map<String, Object> out = new TreeMap<>();
    toEnv().forEach((k, v) -> out.put(k, MAPS.contains(k) ? Annotations.parse(v, k) : v));
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(out);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("maps of strings always serialise", e);
    }
  }

  /** {@code export NAME='value'} lines for a POSIX shell, single-quoted. */
  public String toExports() {
    StringBuilder sb = new StringBuilder();
    toEnv().forEach((k, v) -> sb.append("export ").append(k).append('=').append(shellQuote(v)).append('\n'));
    return sb.toString();
  }

  /** {@code value} single-quoted for a POSIX shell. */
  public static String shellQuote(String value) {
    return "'" + value.replace("'", "'\\''") + "'";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Identity && ((Identity) o).values.equals(values);
  }

  @Override
  public int hashCode() {
    return Objects.hash(values);
  }

  @Override
  public String toString() {
    return "Identity" + toEnv();
  }
}
