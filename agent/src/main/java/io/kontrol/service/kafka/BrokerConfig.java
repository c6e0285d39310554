package io.kontrol.service.kafka;

import java.io.IOException;
import java.io.StringReader;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The broker's {@code server.properties}: the image's defaults, then the overrides, then the keys
 * the pod owns (its id, roles, listeners, log directory, quorum), which nothing overrides.
 */
public final class BrokerConfig {

  /** Clients. */
  public static final int BROKER_PORT = 9092;
  /** KRaft controllers. */
  public static final int CONTROLLER_PORT = 9093;

  private BrokerConfig() {}

  /** What the pod owns in its configuration. */
  public record Identity(int nodeId, boolean controller, String host, List<String> bootstrap, String logDir) {}

  /** The keys the pod owns, for {@code identity}. */
  public static Map<String, String> managed(Identity id) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node.id", String.valueOf(id.nodeId()));
    m.put("process.roles", id.controller() ? "broker,controller" : "broker");
    m.put(
        "listeners",
        "PLAINTEXT://0.0.0.0:" + BROKER_PORT + (id.controller() ? ",CONTROLLER://0.0.0.0:" + CONTROLLER_PORT : ""));
    // a dynamically added controller is reached only through its advertised CONTROLLER listener
    m.put(
        "advertised.listeners",
        "PLAINTEXT://" + id.host() + ":" + BROKER_PORT
            + (id.controller() ? ",CONTROLLER://" + id.host() + ":" + CONTROLLER_PORT : ""));
    m.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    m.put("controller.listener.names", "CONTROLLER");
    m.put("inter.broker.listener.name", "PLAINTEXT");
    m.put("controller.quorum.bootstrap.servers", String.join(",", id.bootstrap()));
    // the group's leader adds and removes voters itself, in order
    m.put("controller.quorum.auto.join.enable", "false");
    m.put("log.dirs", id.logDir());
    return m;
  }

  /**
   * The merged configuration: {@code defaults}, then {@code overrides}, then {@link #managed}.
   *
   * @throws IllegalArgumentException when {@code overrides} holds a managed key (the parser
   *     refuses them, so this is a programming error)
   */
  public static Map<String, String> merge(Map<String, String> defaults, Map<String, String> overrides, Identity id) {
    Map<String, String> managed = managed(id);
    for (String key : overrides.keySet()) {
      if (managed.containsKey(key) || KafkaOverrides.MANAGED.contains(key)) {
        throw new IllegalArgumentException("override of the managed key " + key);
      }
    }
    Map<String, String> all = new TreeMap<>(defaults);
    all.putAll(overrides);
    all.putAll(managed);
    return all;
  }

  /** {@code server.properties} text, keys sorted, with a header naming where it comes from. */
  public static String render(Map<String, String> config) {
    StringBuilder b = new StringBuilder();
    b.append("# written by `kontrol kafka configure`: the image's defaults, the pod's\n");
    b.append("# ").append(KafkaOverrides.ANNOTATION).append(" annotation, and the keys the pod owns\n");
    new TreeMap<>(config).forEach((k, v) -> b.append(k).append('=').append(escape(v)).append('\n'));
    return b.toString();
  }

  /** Parses properties text (the defaults file) into an ordered map. */
  public static Map<String, String> parseProperties(String text) throws IOException {
    Properties p = new Properties();
    p.load(new StringReader(text));
    Map<String, String> m = new TreeMap<>();
    p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
    return m;
  }

  private static String escape(String value) {
    StringBuilder b = new StringBuilder();
    for (char c : value.toCharArray()) {
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        default -> b.append(c);
      }
    }
    return b.toString();
  }
}
