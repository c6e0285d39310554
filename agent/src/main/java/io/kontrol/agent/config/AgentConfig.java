package io.kontrol.agent.config;

import io.kontrol.agent.group.Group;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The agent's settings: the {@code KONTROL_*} variables and {@code NAMESPACE} of SPEC §3, each
 * overridable (picocli flags feed {@code overrides}, keyed by the variable's name). Immutable.
 *
 * <p>The environment is injected (production passes {@code System.getenv()}), so tests never touch
 * the process environment. A missing or malformed value throws {@link ConfigException} whose
 * one-line message names the variable.
 */
public final class AgentConfig {
  public static final String KONTROL_MODE = "KONTROL_MODE";
  public static final String KONTROL_ETCD = "KONTROL_ETCD";
  public static final String KONTROL_HOST = "KONTROL_HOST";
  public static final String KONTROL_PORT = "KONTROL_PORT";
  public static final String KONTROL_HTTP_PORT = "KONTROL_HTTP_PORT";
  public static final String KONTROL_TTL = "KONTROL_TTL";
  public static final String KONTROL_DAMPER = "KONTROL_DAMPER";
  public static final String KONTROL_DAMPER_MAX = "KONTROL_DAMPER_MAX";
  public static final String KONTROL_FOVER = "KONTROL_FOVER";
  public static final String KONTROL_CALLBACK = "KONTROL_CALLBACK";
  public static final String KONTROL_CALLBACK_TIMEOUT = "KONTROL_CALLBACK_TIMEOUT";
  public static final String KONTROL_PAYLOAD = "KONTROL_PAYLOAD";
  public static final String KONTROL_ID = "KONTROL_ID";
  public static final String KONTROL_IP = "KONTROL_IP";
  public static final String KONTROL_LABELS = "KONTROL_LABELS";
  public static final String KONTROL_ANNOTATIONS = "KONTROL_ANNOTATIONS";
  public static final String NAMESPACE = "NAMESPACE";

  /** The annotation listing the master services this pod reports to. */
  public static final String MASTER_ANNOTATION = "kontrol.unity3d.com/master";

  private static final Pattern IPV4 =
      Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

  private final Map<String, String> env;
  private final Env vars;
  private final Set<Mode> modes;
  private final List<String> etcd;
  private final int port;
  private final int httpPort;
  private final Duration ttl;
  private final Duration damper;
  private final Duration damperMax;
  private final Duration fover;
  private final Optional<String> callback;
  private final Duration callbackTimeout;
  private final Optional<Path> payload;
  private final String id;
  private final String ip;
  private final Map<String, String> labels;
  private final Map<String, String> annotations;
  private final String namespace;
  private final List<Group> masters;

  private AgentConfig(Map<String, String> env) {
    this.env = env;
    this.vars = Env.of(env);
    this.modes = parseModes(get(KONTROL_MODE).orElse("slave"));
    this.namespace = get(NAMESPACE).orElse("default");
    if (!Group.isName(namespace)) {
      throw new ConfigException(NAMESPACE, "not a valid name: \"" + namespace + "\"");
    }
    this.etcd = parseEtcd();
    this.port = vars.port(KONTROL_PORT, 8000); // 0: any free port (tests)
    this.httpPort = vars.port(KONTROL_HTTP_PORT, 8001);
    this.ttl = Duration.ofSeconds(vars.integer(KONTROL_TTL, 25, 1, 86_400));
    this.fover = Duration.ofSeconds(vars.integer(KONTROL_FOVER, 60, 1, 86_400));
    this.damper = vars.seconds(KONTROL_DAMPER, Duration.ofSeconds(10), false);
    this.damperMax = vars.seconds(KONTROL_DAMPER_MAX, damper.multipliedBy(4), false);
    if (damperMax.compareTo(damper) < 0) {
      throw new ConfigException(
          KONTROL_DAMPER_MAX, "must not be shorter than KONTROL_DAMPER (" + env.get(KONTROL_DAMPER_MAX) + ")");
    }
    this.callback = get(KONTROL_CALLBACK);
    this.callbackTimeout = vars.seconds(KONTROL_CALLBACK_TIMEOUT, Duration.ofSeconds(60), true);
    this.payload = vars.path(KONTROL_PAYLOAD);
    this.labels = vars.jsonStrings(KONTROL_LABELS, true, "a JSON object with \"app\" and \"role\"");
    for (String required : List.of("app", "role")) {
      String v = labels.get(required);
      if (v == null || v.isBlank()) {
        throw new ConfigException(KONTROL_LABELS, "missing \"" + required + "\"");
      }
    }
    if (!Group.isName(labels.get("app"))) {
      throw new ConfigException(KONTROL_LABELS, "app is not a valid name: \"" + labels.get("app") + "\"");
    }
    this.annotations = vars.jsonStrings(KONTROL_ANNOTATIONS, false, "a JSON object");
    this.masters = parseMasters();
    this.id = get(KONTROL_ID).orElseGet(AgentConfig::hostname);
    if (!Group.isName(id)) {
      throw new ConfigException(KONTROL_ID, "not a valid pod id: \"" + id + "\"");
    }
    this.ip = get(KONTROL_IP).orElseGet(AgentConfig::firstIpv4);
    if (!IPV4.matcher(ip).matches()) {
      throw new ConfigException(KONTROL_IP, "not an IPv4 address: \"" + ip + "\"");
    }
  }

  /** Settings from {@code env} alone. */
  public static AgentConfig fromEnvironment(Map<String, String> env) {
    return from(env, Map.of());
  }

  /**
   * Settings from {@code env}, with {@code overrides} (variable name → value, e.g. from flags)
   * taking precedence. {@link #env()} is the merge of both.
   */
  public static AgentConfig from(Map<String, String> env, Map<String, String> overrides) {
    Map<String, String> merged = new HashMap<>(env);
    overrides.forEach(
        (k, v) -> {
          if (v != null) {
            merged.put(k, v);
          }
        });
    return new AgentConfig(Collections.unmodifiableMap(merged));
  }

  // ---------------------------------------------------------------- accessors

  /** The whole environment (with overrides), passed to callbacks; read extra variables here. */
  public Map<String, String> env() {
    return env;
  }

  public Set<Mode> modes() {
    return modes;
  }

  /** Registers under the master groups (slave, or debug). */
  public boolean isSlave() {
    return modes.contains(Mode.SLAVE) || modes.contains(Mode.DEBUG);
  }

  /** Campaigns for its own group (master, or debug). */
  public boolean isMaster() {
    return modes.contains(Mode.MASTER) || modes.contains(Mode.DEBUG);
  }

  public boolean isVerbose() {
    return modes.contains(Mode.VERBOSE) || modes.contains(Mode.DEBUG);
  }

  /** etcd endpoints as URLs, e.g. {@code http://10.0.0.1:2379}. */
  public List<String> etcd() {
    return etcd;
  }

  public int port() {
    return port;
  }

  /** {@code KONTROL_HTTP_PORT}: /metrics, /livez, /readyz (default 8001; 0 = any free port). */
  public int httpPort() {
    return httpPort;
  }

  public Duration ttl() {
    return ttl;
  }

  public Duration damper() {
    return damper;
  }

  public Duration damperMax() {
    return damperMax;
  }

  public Duration fover() {
    return fover;
  }

  public Optional<String> callback() {
    return callback;
  }

  public Duration callbackTimeout() {
    return callbackTimeout;
  }

  public Optional<Path> payload() {
    return payload;
  }

  public String id() {
    return id;
  }

  public String ip() {
    return ip;
  }

  public Map<String, String> labels() {
    return labels;
  }

  public Map<String, String> annotations() {
    return annotations;
  }

  public String app() {
    return labels.get("app");
  }

  public String role() {
    return labels.get("role");
  }

  public String namespace() {
    return namespace;
  }

  /** This pod's own group, {@code /kontrol/<NAMESPACE>/<app>}: the one it leads in master mode. */
  public Group ownGroup() {
    return new Group(namespace, app());
  }

  /** The groups named by the {@code kontrol.unity3d.com/master} annotation, in order. */
  public List<Group> masters() {
    return masters;
  }

  /**
   * The groups this pod registers in: its masters in slave mode, plus its own group when it is
   * both master and slave (mixed mode).
   */
  public List<Group> reportsTo() {
    if (!isSlave()) {
      return List.of();
    }
    Set<Group> groups = new LinkedHashSet<>(masters);
    if (isMaster()) {
      groups.add(ownGroup());
    }
    return List.copyOf(groups);
  }

  // ---------------------------------------------------------------- parsing

  private Optional<String> get(String name) {
    return vars.string(name);
  }

  private static Set<Mode> parseModes(String value) {
    EnumSet<Mode> set = EnumSet.noneOf(Mode.class);
    for (String token : value.split(",")) {
      if (!token.isBlank()) {
        set.add(Mode.parse(token));
      }
    }
    if (set.isEmpty()) {
      throw new ConfigException(KONTROL_MODE, "empty");
    }
    return Collections.unmodifiableSet(set);
  }

  private List<String> parseEtcd() {
    return parseEtcd(env, modes.contains(Mode.DEBUG));
  }

  /**
   * etcd's endpoints as the agent reads them from {@code KONTROL_ETCD} (else {@code
   * KONTROL_HOST}), for commands that need etcd but no pod settings.
   *
   * @throws ConfigException when neither is set or an endpoint is malformed
   */
  public static List<String> etcdEndpoints(Map<String, String> env) {
    return parseEtcd(env, false);
  }

  private static List<String> parseEtcd(Map<String, String> env, boolean debug) {
    java.util.function.Function<String, Optional<String>> get =
        n -> Optional.ofNullable(env.get(n)).filter(x -> !x.isBlank()).map(String::trim);
    Optional<String> v = get.apply(KONTROL_ETCD).or(() -> get.apply(KONTROL_HOST));
    String name = get.apply(KONTROL_ETCD).isPresent() ? KONTROL_ETCD : KONTROL_HOST;
    if (v.isEmpty()) {
      if (debug) {
        return List.of("http://127.0.0.1:2379");
      }
      throw new ConfigException(KONTROL_ETCD, "not set (nor KONTROL_HOST): where is etcd?");
    }
    List<String> out = new ArrayList<>();
    for (String raw : v.get().split(",")) {
      String e = raw.trim();
      if (e.isEmpty()) {
        continue;
      }
      out.add(endpoint(name, e));
    }
    if (out.isEmpty()) {
      throw new ConfigException(name, "no endpoint in \"" + v.get() + "\"");
    }
    return List.copyOf(out);
  }

  /** {@code host} → {@code http://host:2379}; {@code host:port}; {@code http(s)://host:port}. */
  private static String endpoint(String name, String e) {
    String url = e.contains("://") ? e : "http://" + e;
    URI uri;
    try {
      uri = new URI(url);
    } catch (Exception ex) {
      throw new ConfigException(name, "bad endpoint \"" + e + "\"");
    }
    String scheme = uri.getScheme();
    if (!"http".equals(scheme) && !"https".equals(scheme)) {
      throw new ConfigException(name, "bad endpoint \"" + e + "\" (scheme must be http or https)");
    }
    if (uri.getHost() == null
        || (uri.getPath() != null && !uri.getPath().isEmpty() && !uri.getPath().equals("/"))
        || uri.getQuery() != null
        || uri.getUserInfo() != null) {
      throw new ConfigException(name, "bad endpoint \"" + e + "\" (expected host, host:port or http(s)://host:port)");
    }
    int p = uri.getPort() == -1 ? 2379 : uri.getPort();
    return scheme + "://" + uri.getHost() + ":" + p;
  }

  private List<Group> parseMasters() {
    String v = annotations.get(MASTER_ANNOTATION);
    if (v == null || v.isBlank()) {
      return List.of();
    }
    Map<Group, Boolean> groups = new LinkedHashMap<>();
    for (String entry : v.split(",")) {
      if (entry.isBlank()) {
        continue;
      }
      try {
        groups.put(Group.ofMaster(entry, namespace), Boolean.TRUE);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(KONTROL_ANNOTATIONS, MASTER_ANNOTATION + ": " + e.getMessage());
      }
    }
    return List.copyOf(groups.keySet());
  }

  private static String hostname() {
    String h = System.getenv("HOSTNAME");
    if (h != null && !h.isBlank()) {
      return h.trim();
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      throw new ConfigException(KONTROL_ID, "not set and the host name cannot be read");
    }
  }

  /** The first IPv4 of this host's first non-loopback interface that is up, else 127.0.0.1: the pod's IP when {@code KONTROL_IP} is not set. */
  public static String firstIpv4() {
    try {
      Enumeration<NetworkInterface> nics = NetworkInterface.getNetworkInterfaces();
      while (nics != null && nics.hasMoreElements()) {
        NetworkInterface nic = nics.nextElement();
        if (!nic.isUp() || nic.isLoopback()) {
          continue;
        }
        for (Enumeration<InetAddress> a = nic.getInetAddresses(); a.hasMoreElements(); ) {
          InetAddress addr = a.nextElement();
          if (addr instanceof Inet4Address) {
            return addr.getHostAddress();
          }
        }
      }
    } catch (SocketException ignored) {
      // fall through to loopback
    }
    return "127.0.0.1";
  }

  @Override
  public String toString() {
    return "AgentConfig{modes="
        + modes
        + ", etcd="
        + etcd
        + ", id="
        + id
        + ", ip="
        + ip
        + ", app="
        + app()
        + ", role="
        + role()
        + ", namespace="
        + namespace
        + ", reportsTo="
        + reportsTo()
        + ", ttl="
        + ttl.toSeconds()
        + "s, fover="
        + fover.toSeconds()
        + "s, damper="
        + damper.toMillis()
        + "ms, damperMax="
        + damperMax.toMillis()
        + "ms}";
  }
}
