package io.kontrol.agent.groupconfig;

/**
 * A group configuration was refused: its one-line message says which field and why, and nothing
 * was stored.
 */
public final class GroupConfigException extends Exception {

  private static final long serialVersionUID = 1L;

  public GroupConfigException(String message) {
    super(message);
  }

  /** {@code <field>: <problem>}, e.g. {@code routes[1]: "http://x" is not a nats-route:// URL}. */
  static GroupConfigException field(String field, String problem) {
    return new GroupConfigException(field + ": " + problem);
  }
}
