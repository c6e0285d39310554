package io.kontrol.agent.group;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A service group: {@code /kontrol/<namespace>/<app>} and the etcd keys under it (see the
 * "etcd layout" section of {@code agent/README.md}).
 */
public final class Group {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?");

  private final String namespace;
  private final String app;
  private final String prefix;

  public Group(String namespace, String app) {
    if (!isName(namespace)) {
      throw new IllegalArgumentException("bad namespace \"" + namespace + "\"");
    }
    if (!isName(app)) {
      throw new IllegalArgumentException("bad app \"" + app + "\"");
    }
    this.namespace = namespace;
    this.app = app;
    this.prefix = "/kontrol/" + namespace + "/" + app;
  }

  /** True when {@code s} can be one path segment of a key (app, namespace, pod id). */
  public static boolean isName(String s) {
    return s != null && NAME.matcher(s).matches();
  }

  /**
   * The group of a {@code kontrol.unity3d.com/master} entry: {@code nats.default.svc} →
   * app {@code nats}, namespace {@code default}; {@code nats} → app {@code nats} in {@code
   * defaultNamespace}.
   *
   * @throws IllegalArgumentException when the entry has an empty or invalid label
   */
  public static Group ofMaster(String entry, String defaultNamespace) {
    String e = entry.trim();
    String[] labels = e.split("\\.", -1);
    if (e.isEmpty() || labels[0].isEmpty() || (labels.length > 1 && labels[1].isEmpty())) {
      throw new IllegalArgumentException("bad master \"" + e + "\"");
    }
    return new Group(labels.length > 1 ? labels[1] : defaultNamespace, labels[0]);
  }

  /**
   * The group an operator names on a command line: {@code APP} (in {@code defaultNamespace}) or
   * {@code NS/APP}.
   *
   * @throws IllegalArgumentException saying what is wrong
   */
  public static Group parse(String spec, String defaultNamespace) {
    String[] p = spec.split("/", -1);
    if (p.length == 1) {
      return new Group(defaultNamespace, p[0]);
    }
    if (p.length == 2) {
      return new Group(p[0], p[1]);
    }
    throw new IllegalArgumentException("expected APP or NS/APP, not '" + spec + "'");
  }

  public String namespace() {
    return namespace;
  }

  public String app() {
    return app;
  }

  /** {@code /kontrol/<namespace>/<app>} */
  public String prefix() {
    return prefix;
  }

  /** Prefix of the live records, each attached to its agent's lease. */
  public String podsPrefix() {
    return prefix + "/pods/";
  }

  public String podKey(String id) {
    return podsPrefix() + id;
  }

  /**
   * Where the seq given to {@code id} is kept (no lease: a returning id gets it back). Its create
   * revision orders first registrations; see {@link SequenceAllocator}.
   */
  public String seqKey(String id) {
    return prefix + "/seq/" + id;
  }

  /** The election's name: candidates are {@code <leader>/<lease id hex>}. */
  public String leaderKey() {
    return prefix + "/leader";
  }

  /** The last state a callback returned, written only by the current leader (fenced). */
  public String stateKey() {
    return prefix + "/state";
  }

  /**
   * The pod ids the last successful callback ran on (a JSON array), written with the state: what a
   * leader waits for after an etcd outage before it acts (see {@code callback.Settle}).
   */
  public String membersKey() {
    return prefix + "/members";
  }

  /**
   * The group's configuration: one JSON document an operator writes ({@code kontrol config put},
   * or a service's request API), versioned by its etcd mod revision; the leader applies it.
   */
  public String configKey() {
    return prefix + "/config";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Group g && g.namespace.equals(namespace) && g.app.equals(app);
  }

  @Override
  public int hashCode() {
    return Objects.hash(namespace, app);
  }

  /** {@code <namespace>/<app>}, as logged. */
  @Override
  public String toString() {
    return namespace + "/" + app;
  }
}
