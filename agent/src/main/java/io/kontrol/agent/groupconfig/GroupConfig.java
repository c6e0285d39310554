package io.kontrol.agent.groupconfig;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A group's configuration: what an operator sets for the whole group, beside what the group's
 * membership decides. One JSON object, every key optional:
 *
 * <pre>
 * {"name": "CLUSTER_A",                                   the NATS cluster name (default: the group's app)
 *  "routes": ["nats-route://10.0.0.9:4244", ...],        routes outside the group, added to every broker's
 *  "leafnodes": [{"url": "nats-leaf://hub:7422",          leafnode remotes, each with an optional
 *                 "credentials": "/etc/nats/hub.creds"}]}  credentials file (a path on the brokers)
 * </pre>
 *
 * <p>{@link #parse} refuses anything else (unknown keys, duplicate keys, a value of the wrong type,
 * a URL that is not one NATS takes there, a name NATS or a subject cannot carry) with a {@link
 * GroupConfigException} naming the field. A parsed configuration is immutable; {@link #json()} is
 * its canonical form (keys in the order above, no spaces), which is what is stored.
 */
public final class GroupConfig {

  /** The configuration of a group nobody configured: every default. */
  public static final GroupConfig EMPTY = new GroupConfig(Optional.empty(), List.of(), List.of());

  /** The longest document accepted (it goes into etcd, an environment variable and a NATS reply). */
  public static final int MAX_BYTES = 64 * 1024;

  static final Set<String> ROUTE_SCHEMES = Set.of("nats-route", "nats");
  static final Set<String> LEAF_SCHEMES = Set.of("nats-leaf", "nats", "tls", "ws", "wss");
  private static final Set<String> KEYS = Set.of("name", "routes", "leafnodes");
  private static final Set<String> REMOTE_KEYS = Set.of("url", "credentials");
  /** A token of the subject {@code _SAT.<name>.config.put}, and a name nats-server takes. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  private static final Pattern PATH = Pattern.compile("/[A-Za-z0-9._/@+=-]{0,1023}");
  private static final int MAX_ITEMS = 64;

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** A leafnode remote: the URL the brokers dial, and the credentials file they present. */
  public record Remote(String url, Optional<String> credentials) {
    public Remote {
      Objects.requireNonNull(url, "url");
      Objects.requireNonNull(credentials, "credentials");
    }
  }

  private final Optional<String> name;
  private final List<String> routes;
  private final List<Remote> leafnodes;

  private GroupConfig(Optional<String> name, List<String> routes, List<Remote> leafnodes) {
    this.name = name;
    this.routes = List.copyOf(routes);
    this.leafnodes = List.copyOf(leafnodes);
  }

  /**
   * Parses and validates a configuration document.
   *
   * @throws GroupConfigException naming the field (or the line and column of a syntax error)
   */
  public static GroupConfig parse(String text) throws GroupConfigException {
    if (text == null || text.isBlank()) {
      throw new GroupConfigException("the configuration is empty: expected a JSON object such as {\"name\": \"CLUSTER_A\"}");
    }
    int size = text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    if (size > MAX_BYTES) {
      throw new GroupConfigException("the configuration is " + size + " bytes; at most " + MAX_BYTES + " are accepted");
    }
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      String where = at == null ? "" : "line " + at.getLineNr() + " column " + at.getColumnNr() + ": ";
      throw new GroupConfigException("not JSON: " + where + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw new GroupConfigException("expected a JSON object, found " + kind(root));
    }
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!KEYS.contains(key)) {
        throw GroupConfigException.field(key, "unknown key (expected name, routes, leafnodes)");
      }
    }
    Optional<String> name = Optional.empty();
    JsonNode n = root.get("name");
    if (n != null && !n.isNull()) {
      if (!n.isTextual()) {
        throw GroupConfigException.field("name", "expected a string, found " + kind(n));
      }
      String s = n.asText();
      if (!NAME.matcher(s).matches()) {
        throw GroupConfigException.field(
            "name",
            quote(s)
                + " is not a cluster name: 1 to 64 letters, digits, '-' or '_' (nats-server refuses spaces, and the"
                + " name is a token of the subject _SAT.<name>.config.put)");
      }
      name = Optional.of(s);
    }
    List<String> routes = new ArrayList<>();
    for (Map.Entry<Integer, JsonNode> e : items(root, "routes")) {
      String field = "routes[" + e.getKey() + "]";
      if (!e.getValue().isTextual()) {
        throw GroupConfigException.field(field, "expected a URL string, found " + kind(e.getValue()));
      }
      routes.add(url(field, e.getValue().asText(), ROUTE_SCHEMES, "a nats-route:// or nats:// URL"));
    }
    List<Remote> leafnodes = new ArrayList<>();
    for (Map.Entry<Integer, JsonNode> e : items(root, "leafnodes")) {
      String field = "leafnodes[" + e.getKey() + "]";
      JsonNode r = e.getValue();
      if (!r.isObject()) {
        throw GroupConfigException.field(field, "expected an object {\"url\": ..., \"credentials\": ...}, found " + kind(r));
      }
      for (Iterator<String> it = r.fieldNames(); it.hasNext(); ) {
        String key = it.next();
        if (!REMOTE_KEYS.contains(key)) {
          throw GroupConfigException.field(field + "." + key, "unknown key (expected url, credentials)");
        }
      }
      JsonNode u = r.get("url");
      if (u == null || !u.isTextual()) {
        throw GroupConfigException.field(field + ".url", "expected a URL string, found " + kind(u));
      }
      String url = url(field + ".url", u.asText(), LEAF_SCHEMES, "a nats-leaf://, nats://, tls://, ws:// or wss:// URL");
      Optional<String> credentials = Optional.empty();
      JsonNode c = r.get("credentials");
      if (c != null && !c.isNull()) {
        if (!c.isTextual()) {
          throw GroupConfigException.field(field + ".credentials", "expected a file name, found " + kind(c));
        }
        String path = c.asText();
        if (!PATH.matcher(path).matches() || path.contains("/../") || path.endsWith("/..")) {
          throw GroupConfigException.field(
              field + ".credentials",
              quote(path) + " is not an absolute file name on the brokers (letters, digits and . _ / @ + = -)");
        }
        credentials = Optional.of(path);
      }
      leafnodes.add(new Remote(url, credentials));
    }
    return new GroupConfig(name, routes, leafnodes);
  }

  private static List<Map.Entry<Integer, JsonNode>> items(JsonNode root, String key) throws GroupConfigException {
    JsonNode a = root.get(key);
    if (a == null || a.isNull()) {
      return List.of();
    }
    if (!a.isArray()) {
      throw GroupConfigException.field(key, "expected an array, found " + kind(a));
    }
    if (a.size() > MAX_ITEMS) {
      throw GroupConfigException.field(key, a.size() + " entries; at most " + MAX_ITEMS);
    }
    List<Map.Entry<Integer, JsonNode>> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      out.add(Map.entry(i, a.get(i)));
    }
    return out;
  }

  private static String url(String field, String s, Set<String> schemes, String expected) throws GroupConfigException {
    URI u;
    try {
      u = new URI(s);
    } catch (URISyntaxException e) {
      throw GroupConfigException.field(field, quote(s) + " does not parse as a URL: " + e.getReason() + " at index " + e.getIndex());
    }
    String scheme = u.getScheme();
    if (scheme == null || !schemes.contains(scheme.toLowerCase(java.util.Locale.ROOT))) {
      throw GroupConfigException.field(field, quote(s) + " is not " + expected);
    }
    if (u.getHost() == null || u.getHost().isEmpty()) {
      throw GroupConfigException.field(field, quote(s) + " has no host (expected " + scheme + "://HOST:PORT)");
    }
    if (u.getPort() == 0 || u.getPort() > 65535) {
      throw GroupConfigException.field(field, quote(s) + " has port " + u.getPort() + " (expected 1 to 65535)");
    }
    if ((u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/"))
        || u.getRawQuery() != null
        || u.getRawFragment() != null) {
      throw GroupConfigException.field(field, quote(s) + " has a path, query or fragment (expected " + scheme + "://HOST:PORT)");
    }
    return s;
  }

  private static String kind(JsonNode n) {
    if (n == null || n.isMissingNode()) {
      return "nothing";
    }
    return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + (n.isValueNode() ? " " + n : "");
  }

  private static String quote(String s) {
    return JSON.getNodeFactory().textNode(s).toString();
  }

  /** The cluster name, when the configuration sets one. */
  public Optional<String> name() {
    return name;
  }

  /** The extra routes, as given. */
  public List<String> routes() {
    return routes;
  }

  public List<Remote> leafnodes() {
    return leafnodes;
  }

  /** The canonical document: keys in a fixed order, defaults left out, no spaces. */
  public String json() {
    return tree().toString();
  }

  /** The canonical document as a JSON tree (a copy). */
  public ObjectNode tree() {
    ObjectNode o = JSON.createObjectNode();
    name.ifPresent(n -> o.put("name", n));
    if (!routes.isEmpty()) {
      ArrayNode a = o.putArray("routes");
      routes.forEach(a::add);
    }
    if (!leafnodes.isEmpty()) {
      ArrayNode a = o.putArray("leafnodes");
      for (Remote r : leafnodes) {
        ObjectNode ro = a.addObject();
        ro.put("url", r.url());
        r.credentials().ifPresent(c -> ro.put("credentials", c));
      }
    }
    return o;
  }

  /** The document indented, one field per line: what {@code kontrol config get} prints and diffs. */
  public String pretty() {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(tree()) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GroupConfig g && g.name.equals(name) && g.routes.equals(routes) && g.leafnodes.equals(leafnodes);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, routes, leafnodes);
  }

  @Override
  public String toString() {
    return json();
  }
}
