package io.kontrol.agent.config;

/**
 * A missing or malformed setting: the one error type of {@link Env} and of every configuration
 * read from it. The message is ONE line that starts with the variable's name (e.g. {@code
 * KONTROL_LABELS: missing "role"}); the CLI prints it and exits 2.
 */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String variable;

  public ConfigException(String variable, String problem) {
    super(variable + ": " + problem.replace('\n', ' '));
    this.variable = variable;
  }

  /** The environment variable at fault, e.g. {@code KONTROL_TTL}. */
  public String variable() {
    return variable;
  }
}
