package io.kontrol.agent.boot;

import io.kontrol.agent.identity.Identity;
import io.kontrol.agent.render.RenderException;
import io.kontrol.agent.render.TemplateRenderer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The metrics agent's configuration, as the original rendered it for telegraf at boot: an
 * OpenTSDB output at the host of the {@code kontrol.unity3d.com/opentsdb} annotation ({@code
 * host} or {@code host:port}, port 4242 by default), the pod's labels as global tags, and a
 * statsd input on 127.0.0.1:8125 for the agent's counters.
 */
public final class TelegrafConfig {

  public static final String ANNOTATION = "kontrol.unity3d.com/opentsdb";
  static final int DEFAULT_PORT = 4242;

  private TelegrafConfig() {}

  /** The configuration, or empty when the pod has no opentsdb annotation. */
  public static Optional<String> render(Identity identity) throws RenderException {
    String endpoint = identity.map(Identity.ANNOTATIONS).get(ANNOTATION);
    if (endpoint == null || endpoint.isBlank()) {
      return Optional.empty();
    }
    String host = endpoint.trim().replaceFirst("^[a-z]+://", "");
    int port = DEFAULT_PORT;
    int colon = host.lastIndexOf(':');
    if (colon > 0 && host.indexOf(':') == colon) {
      try {
        port = Integer.parseInt(host.substring(colon + 1).replaceAll("/.*", ""));
      } catch (NumberFormatException e) {
        throw new RenderException(ANNOTATION + " must be host or host:port, not '" + endpoint + "'", 0);
      }
      host = host.substring(0, colon);
    }
    List<Map<String, String>> tags = new ArrayList<>();
    new TreeMap<>(identity.map(Identity.LABELS)).forEach((k, v) -> tags.add(Map.of("key", tomlKey(k), "value", tomlString(v))));
    Map<String, Object> vars = Map.of(
        "tags", tags,
        "hostname", tomlString(Optional.ofNullable(identity.get(Identity.ID)).orElse("")),
        "opentsdb_host", tomlString(host),
        "opentsdb_port", port);
    return Optional.of(TemplateRenderer.strict().render(template(), vars));
  }

  private static String template() {
    try (InputStream in = TelegrafConfig.class.getResourceAsStream("telegraf.conf.j2")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("the telegraf template is part of the jar", e);
    }
  }

  /** A label name as a TOML bare key: {@code app.kubernetes.io/name} becomes {@code app_kubernetes_io_name}. */
  static String tomlKey(String k) {
    return k.replaceAll("[^A-Za-z0-9_-]", "_");
  }

  /** Escapes a value for a TOML basic string. */
  static String tomlString(String v) {
    StringBuilder sb = new StringBuilder();
    for (char c : v.toCharArray()) {
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }
}
